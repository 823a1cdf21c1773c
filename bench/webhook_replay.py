"""Replay of 10,000 events to one webhook endpoint: each delivered once, and how long the whole
range takes, against the same events sent directly by the sender in the same run (the baseline:
the network and the receiver without the log, the outbox and the queue).

    .venv/bin/python bench/webhook_replay.py [--events 10000] [--concurrency 50]
                                             [--redis-url URL] [--postgresql]

Migrates a fresh database (SQLite in a temporary directory; ``--postgresql``: a database of its own
on ``ILS_BENCH_PG_URL``'s server, dropped at the end), adds a company with one endpoint subscribed
to ``order.shipped`` at a receiver in a process of its own (``bench/webhook_receiver.py``) that
counts every request by ``webhook-id``, records ``--events`` events of that type (in transactions
of 1,000, without the dispatcher: the replay is the only delivery), and starts ``ils worker
--queues notification`` (the queue's rate limit lifted, as for ``bench/webhooks.py``). Then:

1. *direct*: every event signed and POSTed by ``WebhookSender``, ``--concurrency`` at a time;
2. *replay*: what ``POST /api/events/replay`` with ``webhook:<id>`` runs (``replay_target``,
   ``scoped``, ``replay`` in one transaction: one ``deliver-webhook`` job per event through the
   outbox), timed from the call to the last event received; then the queue is drained and the
   receiver's count checked: every event id received exactly once.

Prints a markdown table, writes ``bench/results/webhook_replay.json`` with the commit measured.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import datetime as dt
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import WebhookEndpoint
from ils.events.dispatcher import Dispatcher
from ils.events.envelope import Actor
from ils.events.log import EventFilter
from ils.events.record import record
from ils.events.replay import replay
from ils.jobs.webhooks.event import WebhookEvent, envelope_of
from ils.jobs.webhooks.replay import replay_target, scoped
from ils.jobs.webhooks.sender import WebhookSender
from redis_scope import DEFAULT_URL, checked_url, new_prefix
from webhooks import Arrivals, commit, run_on, world

RESULTS = Path(__file__).resolve().parent / "results" / "webhook_replay.json"
CHUNK = 1_000


class Counted(Arrivals):
    """Arrivals that also count every request by its ``webhook-id``."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: collections.Counter[str] = collections.Counter()

    async def arrived(self, webhook_id: str, at: float) -> None:
        self.requests[webhook_id] += 1
        await super().arrived(webhook_id, at)

    def reset(self) -> None:
        self.at.clear()
        self.requests.clear()


async def fill(db: Database, company: int, n: int) -> list[WebhookEvent]:
    events = []
    for start in range(0, n, CHUNK):
        async with db.session() as s:
            for i in range(start, min(n, start + CHUNK)):
                row = await record(
                    s, "order.shipped", company_id=company, subject=("order", i + 1),
                    data={"order_id": i + 1, "number": f"ORD-{i:06d}", "tracking_number": "1Z"},
                    actor=Actor.system(), dispatch=False,
                )  # fmt: skip
                events.append(row)
    return [envelope_of(e.envelope()) for e in events]


async def direct(sender: WebhookSender, url: str, events: list[WebhookEvent], width: int) -> None:
    gate = asyncio.Semaphore(width)

    async def one(event: WebhookEvent) -> None:
        async with gate:
            await sender.send(url, event.id, event.body(), ["whsec_YmVuY2g="])

    await asyncio.gather(*(one(e) for e in events))


async def drained(system: JobSystem, timeout_s: float) -> None:
    """Until the notification queue has nothing waiting, delayed or running."""
    async with asyncio.timeout(timeout_s):
        while True:
            counts = await system.admin.counts("notification")
            busy = sum(counts[k] for k in ("waiting", "prioritized", "active", "delayed"))
            if not busy:
                return
            await asyncio.sleep(0.5)


def outcome(name: str, arrivals: Counted, ids: set[str], seconds: float) -> dict[str, Any]:
    received = sum(arrivals.requests[i] for i in ids)
    return {
        "name": name, "events": len(ids), "seconds": round(seconds, 2),
        "per_s": round(len(ids) / seconds, 1), "requests": sum(arrivals.requests.values()),
        "missing": len(ids - arrivals.requests.keys()),
        "duplicates": received - len(ids & arrivals.requests.keys()),
    }  # fmt: skip


async def run(args: argparse.Namespace) -> dict[str, Any]:
    redis_url, prefix = checked_url(args.redis_url), new_prefix()
    arrivals = Counted()
    found: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="ils-bench-replay-") as tmp:
        async with world(args, redis_url, prefix, tmp, arrivals) as w:
            db, system, worker = w.db, w.system, w.worker
            async with db.session() as s:
                endpoint = await s.scalar(select(WebhookEndpoint.id))
            began = time.perf_counter()
            events = await fill(db, w.company, args.events)
            found["fill_s"] = round(time.perf_counter() - began, 1)
            ids = {e.id for e in events}
            await worker.wait_for("background job workers active")
            output = asyncio.create_task(worker.drain())

            began = time.perf_counter()
            await direct(w.sender, w.url, events, args.concurrency)
            found["direct"] = outcome("direct", arrivals, ids, time.perf_counter() - began)
            arrivals.reset()

            began = time.perf_counter()
            async with db.session() as s:
                target = await replay_target(s, Dispatcher(db.sessions), f"webhook:{endpoint}")
                which = scoped(target, EventFilter(types=["order.shipped"]))
                done = await replay(s, target, which)
            called = time.perf_counter() - began
            await arrivals.wait_all(ids, args.timeout)
            last = max(arrivals.at.values(), default=began) - began
            await drained(system, args.timeout)
            found["replay"] = outcome("replay", arrivals, ids, last)
            found["replay"] |= {"matched": done.matched, "call_s": round(called, 2)}
            output.cancel()
    found["replay"]["time_ratio_to_direct"] = round(
        found["replay"]["seconds"] / found["direct"]["seconds"], 1
    )
    return {
        "commit": commit(), "date": dt.datetime.now(dt.UTC).isoformat(timespec="minutes"),
        "load_average": os.getloadavg()[0], "concurrency": args.concurrency,
        "database": "postgresql" if args.database_url else "sqlite", **found,
    }  # fmt: skip


def table(results: dict[str, Any]) -> str:
    rows = ["| path | events | requests | missing | duplicates | seconds | events/s |",
            "|---|---|---|---|---|---|---|"]  # fmt: skip
    for key in ("direct", "replay"):
        r = results[key]
        rows.append(f"| {key} | {r['events']} | {r['requests']} | {r['missing']} "
                    f"| {r['duplicates']} | {r['seconds']} | {r['per_s']} |")  # fmt: skip
    replayed = results["replay"]
    rows.append(
        f"\ncommit {results['commit']}, {results['database']}, {results['date']}, load average "
        f"{results['load_average']:.1f}; replay call {replayed['call_s']} s (matched "
        f"{replayed['matched']}), replay / direct time {replayed['time_ratio_to_direct']}x"
    )
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout", type=float, default=600.0, help="for the deliveries, s")
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--postgresql", action="store_true",
                        help="a fresh database on ILS_BENCH_PG_URL's server")  # fmt: skip
    args = parser.parse_args()
    args.database_url = None
    results = asyncio.run(run_on(args, run))
    print(table(results))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    sys.exit(main())
