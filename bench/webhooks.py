"""Event -> webhook received: the latency of a domain event's delivery to a receiver, at a steady
pace (100 events a second for a minute by default), against a direct signed POST to the same
receiver paced the same way in the same run (the baseline: what the network and the receiver
cost without the event log, the dispatcher and the queue).

    .venv/bin/python bench/webhooks.py [--rate 100] [--duration 60] [--concurrency 50]
                                       [--redis-url URL] [--database-url URL | --postgresql]

Migrates a fresh database (SQLite in a temporary directory; ``--postgresql``: a database of its
own made on the server of ``ILS_BENCH_PG_URL``, dropped at the end; or ``--database-url``), adds a
company with one endpoint subscribed to ``order.shipped`` pointing at a receiver served by this
bench (``bench/webhook_receiver.py``, uvicorn on 127.0.0.1 in a process of its own: the SSRF
allow-list admits it), and starts
``ils worker --queues notification``. Then:

1. *direct*: ``WebhookSender.send`` of a signed event, paced at ``--rate``; each latency is send
   -> the receiver reading it.
2. *fanout*: the webhooks subscriber's work alone: ``enqueue_deliveries`` of the event in its own
   transaction (through the outbox); each latency is the call -> the receiver reading it.
3. *event*: ``ils.events.record`` of an ``order.shipped`` event in its own transaction (which
   queues the dispatcher through the outbox), paced at ``--rate``; each latency is the call ->
   the receiver reading the delivery (dispatcher pass after its settle time, subscriber fan-out,
   ``deliver-webhook`` job, signed POST).

The notification queue runs without its rate limit (``ILS_QUEUE_NOTIFICATION_RATE_MAX=none``):
its default, 200 jobs a minute, cannot carry 100 webhooks a second (see docs/webhooks.md).
Each path's CPU time (user + system) of the worker, and of this process (which records the
events, as the web app would), is counted from its start until its last delivery arrived, per
event received: on a shared machine a steadier figure than the latencies.
Prints a markdown table with the ratio event/direct, writes ``bench/results/webhooks.json``
with the commit measured. Redis keys live under a fresh prefix, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from ipaddress import ip_network
from pathlib import Path
from typing import Any

import psutil

from ils.bootstrap import JobSystem
from ils.domain.db import Database, database_url
from ils.domain.migrate import upgrade_database
from ils.domain.models import Company, CompanyKind
from ils.domain.services import webhooks as service
from ils.events.envelope import Actor
from ils.events.record import record
from ils.jobs.webhooks.event import WebhookEvent, new_event_id
from ils.jobs.webhooks.fanout import enqueue_deliveries
from ils.jobs.webhooks.sender import WebhookSender
from ils.jobs.webhooks.settings import WebhookSettings
from ils.settings import load_settings
from notify_latency import Process, percentiles
from redis_scope import DEFAULT_URL, checked_url, delete_prefix, new_prefix

RESULTS = Path(__file__).resolve().parent / "results" / "webhooks.json"
PG_URL = os.environ.get("ILS_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
LOCAL = (ip_network("127.0.0.1/32"),)


class Arrivals:
    """When each webhook-id reached the receiver, and a wait for a number of them."""

    def __init__(self) -> None:
        self.at: dict[str, float] = {}
        self.changed = asyncio.Condition()

    async def arrived(self, webhook_id: str, at: float) -> None:
        async with self.changed:
            self.at.setdefault(webhook_id, at)
            self.changed.notify_all()

    async def wait_all(self, ids: set[str], timeout_s: float) -> None:
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(timeout_s), self.changed:
                await self.changed.wait_for(lambda: ids <= self.at.keys())


RECEIVER = Path(__file__).resolve().parent / "webhook_receiver.py"


@contextlib.asynccontextmanager
async def receiver(arrivals: Arrivals) -> AsyncIterator[str]:
    """The receiver (:mod:`webhook_receiver`) in a process of its own: its URL, while the
    arrivals it reports are noted."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, str(RECEIVER), stdout=asyncio.subprocess.PIPE,
        limit=1 << 20,
    )  # fmt: skip
    assert proc.stdout is not None
    first = (await asyncio.wait_for(proc.stdout.readline(), 30)).decode().split()
    if first[:1] != ["listening"]:
        raise RuntimeError(f"the receiver did not start: {first}")

    async def read(stream: asyncio.StreamReader) -> None:
        while line := await stream.readline():
            webhook_id, at = line.decode().split()
            await arrivals.arrived(webhook_id, float(at))

    reading = asyncio.create_task(read(proc.stdout))
    try:
        yield first[1]
    finally:
        proc.terminate()
        await proc.wait()
        await reading


async def paced(rate: float, duration_s: float, send: Callable[[int], Awaitable[str]]
                ) -> tuple[dict[str, float], int]:  # fmt: skip
    """Call ``send(i)`` at ``start + i / rate`` (open loop, on ``time.monotonic``, the receiver's
    clock); each call's due time by its id, and how many calls raised (the bench's own side fell
    behind: its pool's timeout)."""
    due: dict[str, float] = {}
    start = time.monotonic()
    tasks = []
    failed = 0

    async def one(i: int, at: float) -> None:
        nonlocal failed
        try:
            due[await send(i)] = at
        except Exception:  # counted and shown; the run goes on
            failed += 1

    for i in range(int(rate * duration_s)):
        at = start + i / rate
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        tasks.append(asyncio.create_task(one(i, at)))
    await asyncio.gather(*tasks)
    return due, failed


async def measure(name: str, arrivals: Arrivals, due: dict[str, float], drain_s: float,
                  not_sent: int) -> dict[str, Any]:  # fmt: skip
    await arrivals.wait_all(set(due), drain_s)
    lat = [arrivals.at[i] - t for i, t in due.items() if i in arrivals.at]
    spread = percentiles(lat) if len(lat) > 1 else {"p50_ms": 0, "p99_ms": 0, "max_ms": 0}
    return {"name": name, "sent": len(due), "not_sent": not_sent,
            "missing": len(due) - len(lat), **spread}  # fmt: skip


def cpu_s(proc: psutil.Process, children: bool) -> float:
    """CPU seconds (user + system) of ``proc`` (and its children) so far."""
    total = 0.0
    for each in (proc, *(proc.children(recursive=True) if children else ())):
        with contextlib.suppress(psutil.Error):
            times = each.cpu_times()
            total += times.user + times.system
    return total


async def seed(db: Database, url: str) -> int:
    async with db.session() as s:
        company = Company(name="Bench Lab", slug="bench-lab", kind=CompanyKind.lab)
        s.add(company)
        await s.flush()
        data = service.EndpointCreate(url=url, event_types=["order.shipped"])
        await service.create_endpoint(s, data, company.id, LOCAL)
        return company.id


@contextlib.asynccontextmanager
async def pg_database() -> AsyncIterator[str]:
    """A fresh PostgreSQL database on ``PG_URL``'s server, dropped at the end: its URL."""
    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    name = f"ils_bench_{uuid.uuid4().hex[:8]}"
    admin = Database(PG_URL)
    engine = admin.engine.execution_options(isolation_level="AUTOCOMMIT")
    async with engine.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with engine.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


def commit() -> str:
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def bench_env(
    args: argparse.Namespace, redis_url: str, prefix: str, var_dir: str
) -> dict[str, str]:
    """The environment of the bench's processes: this one's without its ILS and Redis settings,
    then the bench's Redis, prefix and folder, local receivers allowed, deliveries unlimited."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    env |= {
        "REDIS_URL": redis_url, "ILS_REDIS_PREFIX": prefix, "ILS_VAR_DIR": var_dir,
        "ILS_WEBHOOK_ALLOW": "127.0.0.1/32", "ILS_QUEUE_NOTIFICATION_RATE_MAX": "none",
        "ILS_QUEUE_NOTIFICATION_CONCURRENCY": str(args.concurrency),
    }  # fmt: skip
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    return env


@dataclasses.dataclass(frozen=True)
class World:
    """What both webhook benches run against: the database (migrated), the job system, a sender
    for the direct path, the notification worker's process, the receiver's URL and the company
    whose endpoint points at it."""

    db: Database
    system: JobSystem
    sender: WebhookSender
    worker: Process
    url: str
    company: int


@contextlib.asynccontextmanager
async def world(
    args: argparse.Namespace, redis_url: str, prefix: str, var_dir: str, arrivals: Arrivals
) -> AsyncIterator[World]:
    """The :class:`World` of a run under ``prefix`` and ``var_dir``; everything stopped, and the
    prefix's keys deleted, at the end."""
    env = bench_env(args, redis_url, prefix, var_dir)
    settings = load_settings(env)
    db = Database(database_url(env, settings.var_dir))
    await upgrade_database(db)
    system = JobSystem(settings, database=db)
    sender = WebhookSender(WebhookSettings(allow=LOCAL))
    worker = await Process(["worker", "--queues", "notification"], env).start()
    try:
        async with receiver(arrivals) as url:
            yield World(db, system, sender, worker, url, await seed(db, url))
    finally:
        await sender.close()
        await system.close()
        await worker.stop()
        await db.dispose()
        delete_prefix(redis_url, prefix)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_start = os.getloadavg()[0]
    redis_url, prefix = checked_url(args.redis_url), new_prefix()
    arrivals = Arrivals()
    with tempfile.TemporaryDirectory(prefix="ils-bench-webhooks-") as tmp:
        async with world(args, redis_url, prefix, tmp, arrivals) as w:
            db, sender, worker, url, company = w.db, w.sender, w.worker, w.url, w.company
            await worker.wait_for("background job workers active")
            drain = asyncio.create_task(worker.drain())

            async def direct(i: int) -> str:
                event = WebhookEvent(id=new_event_id(), type="order.shipped",
                                     company_id=company, occurred_at=dt.datetime.now(dt.UTC),
                                     data={"order_id": i + 1})  # fmt: skip
                await sender.send(url, event.id, event.body(), ["whsec_YmVuY2g="])
                return event.id

            async def recorded(i: int) -> str:
                async with db.session() as s:
                    event = await record(
                        s, "order.shipped", company_id=company, subject=("order", i + 1),
                        data={"order_id": i + 1, "number": f"ORD-{i:06d}",
                              "tracking_number": "1Z999"},
                        actor=Actor.system(),
                    )  # fmt: skip
                    return event.id

            async def fanned_out(i: int) -> str:
                event = WebhookEvent(id=new_event_id(), type="order.shipped",
                                     company_id=company, occurred_at=dt.datetime.now(dt.UTC),
                                     data={"order_id": i + 1})  # fmt: skip
                async with db.session() as s:
                    await enqueue_deliveries(s, event)
                return event.id

            runs = {"direct": direct, "fanout": fanned_out, "event": recorded}
            found = {}
            assert worker.proc is not None
            # The worker with its processes; this process alone (the worker and the receiver
            # are its children).
            procs = {"worker": (psutil.Process(worker.proc.pid), True),
                     "bench": (psutil.Process(), False)}  # fmt: skip
            for name in ("direct", *args.paths):
                before = {who: cpu_s(*p) for who, p in procs.items()}
                due, failed = await paced(args.rate, args.duration, runs[name])
                drain_s = 30 if name == "direct" else 120
                found[name] = r = await measure(name, arrivals, due, drain_s, failed)
                received = max(1, r["sent"] - r["missing"])
                for who, p in procs.items():
                    used = cpu_s(*p) - before[who]
                    r[f"{who}_cpu_ms_per_event"] = round(used * 1000 / received, 2)
            drain.cancel()
    base = found["direct"]
    for name in args.paths:
        r = found[name]
        r["ratio_to_direct"] = {k: round(r[k] / base[k], 1) for k in ("p50_ms", "p99_ms")
                                if base[k]}  # fmt: skip
    return {
        "commit": commit(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
        "load_average_start": load_start, "load_average": os.getloadavg()[0],
        "rate": args.rate, "duration_s": args.duration,
        "concurrency": args.concurrency,
        "database": "postgresql" if args.database_url else "sqlite", "paths": found,
    }  # fmt: skip


def table(results: dict[str, Any]) -> str:
    rows = ["| path | sent | not sent | missing | p50 ms | p99 ms | max ms | p50, p99 / direct "
            "| CPU ms/event: worker, bench |", "|---|---|---|---|---|---|---|---|---|"]  # fmt: skip
    for key, r in results["paths"].items():
        ratio = r.get("ratio_to_direct", {})
        times = f"{ratio.get('p50_ms', 1.0)}x, {ratio.get('p99_ms', 1.0)}x"
        cpu = f"{r.get('worker_cpu_ms_per_event')}, {r.get('bench_cpu_ms_per_event')}"
        rows.append(f"| {key} | {r['sent']} | {r['not_sent']} | {r['missing']} | {r['p50_ms']} "
                    f"| {r['p99_ms']} | {r['max_ms']} | {times} | {cpu} |")  # fmt: skip
    load = f"{results['load_average_start']:.1f} -> {results['load_average']:.1f}"
    where = f"commit {results['commit']}, {results['database']}, {results['date']}, load {load}"
    rows.append(f"\n{where}, {results['rate']}/s for {results['duration_s']} s")
    return "\n".join(rows)


async def run_on(
    args: argparse.Namespace,
    bench: Callable[[argparse.Namespace], Awaitable[dict[str, Any]]] | None = None,
) -> dict[str, Any]:
    """``bench`` (this module's :func:`run` by default) on the database ``args`` name: with
    ``--postgresql``, a fresh one made for the run and dropped after it."""
    go = bench or run
    if not args.postgresql:
        return await go(args)
    async with pg_database() as url:
        args.database_url = url
        return await go(args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=100.0)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--paths", nargs="+", default=["fanout", "event"],
                        choices=["fanout", "event"], help="measured against direct")  # fmt: skip
    parser.add_argument("--postgresql", action="store_true",
                        help="a fresh database on ILS_BENCH_PG_URL's server")  # fmt: skip
    results = asyncio.run(run_on(parser.parse_args()))
    print(table(results))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
