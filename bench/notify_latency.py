"""End-to-end latency of a live notification: from the helper call to the WebSocket receipt, with
many clients connected, across processes as in production.

    .venv/bin/python bench/notify_latency.py [--clients 200] [--notifications 100] [--rate 5]
                                             [--redis-url URL] [--database-url URL]

Starts an ``ils worker --queues notification`` and an ``ils serve --no-workers``, migrates a
fresh database (a SQLite file in a temporary directory unless ``--database-url``), adds one user
per client with an API token, connects one WebSocket per user, then:

1. *single*: ``notify_user`` to one user at a time, round robin, paced at ``--rate`` per second;
   each latency is helper call -> that user's socket receiving it.
2. *fan-out*: ``notify_company_role`` to every user at once; each latency is helper call -> one
   socket receiving it (the fan-out's spread), ``--fanouts`` times.

The notification queue keeps its project defaults (rate limit 200/min included, which the
paced load stays under). Prints a markdown table, writes ``bench/results/notify_latency.json``.
Redis keys live under a fresh prefix, deleted at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from ils.bootstrap import JobSystem
from ils.domain.db import Database, database_url
from ils.domain.migrate import upgrade_database
from ils.domain.models import Company, CompanyKind, Role, User
from ils.jobs import helpers
from ils.queue.embedded import free_port
from ils.settings import load_settings
from ils.web.auth.tokens import create_token
from redis_scope import DEFAULT_URL, checked_url, delete_prefix, new_prefix

RESULTS = Path(__file__).resolve().parent / "results" / "notify_latency.json"
START_TIMEOUT_S = 60


class Process:
    """``python -m ils ARGS``; waits for a line of its output."""

    def __init__(self, args: list[str], env: dict[str, str]) -> None:
        self.args, self.env = args, env
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> Process:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "ils", *self.args, env=self.env,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        return self

    async def wait_for(self, needle: str) -> None:
        assert self.proc is not None and self.proc.stdout is not None
        async with asyncio.timeout(START_TIMEOUT_S):
            while True:
                line = await self.proc.stdout.readline()
                if not line:
                    raise RuntimeError(f"ils {' '.join(self.args)} ended before {needle!r}")
                if needle in line.decode(errors="replace"):
                    return

    async def drain(self) -> None:
        """Keep reading its output so a full pipe never blocks it."""
        assert self.proc is not None and self.proc.stdout is not None
        while await self.proc.stdout.readline():
            pass

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    cut = statistics.quantiles(ordered, n=100, method="inclusive")
    return {
        "n": len(ordered),
        "p50_ms": round(cut[49] * 1000, 2),
        "p99_ms": round(cut[98] * 1000, 2),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


async def seed(db: Database, clients: int) -> tuple[int, list[tuple[int, str]]]:
    """A company with ``clients`` staff users; each user's id and API token."""
    async with db.session() as s:
        company = Company(name="Bench Optics", slug="bench", kind=CompanyKind.practice)
        s.add(company)
        await s.flush()
        users = [
            User(company_id=company.id, email=f"u{i}@bench.localhost", name=f"u{i}",
                 password_hash="x", role=Role.staff)
            for i in range(clients)
        ]  # fmt: skip
        s.add_all(users)
        await s.flush()
        tokens = [(u.id, (await create_token(s, u, "bench"))[1]) for u in users]
        return company.id, tokens


class Receiver:
    """Reads every socket; records when each titled notification arrived on which socket."""

    def __init__(self) -> None:
        self.arrivals: dict[str, list[float]] = {}
        self.events: dict[str, asyncio.Event] = {}
        self.expected: dict[str, int] = {}

    def expect(self, title: str, count: int) -> asyncio.Event:
        self.arrivals[title], self.expected[title] = [], count
        self.events[title] = asyncio.Event()
        return self.events[title]

    async def read(self, ws: ClientConnection) -> None:
        async for raw in ws:
            now = time.perf_counter()
            message = json.loads(raw)
            if message["type"] != "notification":
                continue
            title = message["notification"]["title"]
            if title in self.arrivals:
                self.arrivals[title].append(now)
                if len(self.arrivals[title]) >= self.expected[title]:
                    self.events[title].set()


@contextlib.asynccontextmanager
async def sockets(url: str, tokens: list[tuple[int, str]], rx: Receiver) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        readers = []
        for _, token in tokens:
            ws = await stack.enter_async_context(
                connect(url, additional_headers={"Authorization": f"Bearer {token}"})
            )
            while json.loads(await ws.recv())["type"] != "ready":
                pass
            readers.append(asyncio.create_task(rx.read(ws)))
        try:
            yield
        finally:
            for task in readers:
                task.cancel()


async def run(args: argparse.Namespace) -> dict[str, Any]:
    redis_url, prefix = checked_url(args.redis_url), new_prefix()
    with tempfile.TemporaryDirectory(prefix="ils-bench-notify-") as tmp:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
        env |= {"REDIS_URL": redis_url, "ILS_REDIS_PREFIX": prefix, "ILS_VAR_DIR": tmp}
        if args.database_url:
            env["DATABASE_URL"] = args.database_url
        settings = load_settings(env)
        db = Database(database_url(env, settings.var_dir))
        await upgrade_database(db)
        company, tokens = await seed(db, args.clients)
        port = free_port()
        worker = await Process(["worker", "--queues", "notification"], env).start()
        web = await Process(["serve", "--port", str(port), "--no-workers"], env).start()
        system = JobSystem(settings, database=db)
        try:
            await worker.wait_for("background job workers active")
            await web.wait_for("live notifications: subscribed")
            drains = [asyncio.create_task(p.drain()) for p in (worker, web)]
            rx = Receiver()
            async with sockets(f"ws://127.0.0.1:{port}/ws", tokens, rx):
                single = await measure_single(args, system, tokens, rx)
                fanout = await measure_fanout(args, system, company, rx)
            for task in drains:
                task.cancel()
        finally:
            await system.close()
            await web.stop()
            await worker.stop()
            await db.dispose()
            delete_prefix(redis_url, prefix)
    return {
        "clients": args.clients,
        "database": "postgresql" if args.database_url else "sqlite",
        "single": single,
        "fanout": fanout,
    }


async def measure_single(
    args: argparse.Namespace, system: JobSystem, tokens: list[tuple[int, str]], rx: Receiver
) -> dict[str, float]:
    latencies, gap = [], 1 / args.rate
    waits = []
    for i in range(args.notifications):
        user_id = tokens[i % len(tokens)][0]
        title = f"single {i}"
        done = rx.expect(title, 1)
        started = time.perf_counter()
        await helpers.notify_user.using(producer=system.producer)(
            user_id=user_id, title=title, message="bench"
        )
        waits.append((title, started, done))
        await asyncio.sleep(max(0.0, started + gap - time.perf_counter()))
    for title, started, done in waits:
        await asyncio.wait_for(done.wait(), 30)
        latencies.append(rx.arrivals[title][0] - started)
    return percentiles(latencies)


async def measure_fanout(
    args: argparse.Namespace, system: JobSystem, company: int, rx: Receiver
) -> dict[str, float]:
    latencies, last = [], []
    for i in range(args.fanouts):
        title = f"fanout {i}"
        done = rx.expect(title, args.clients)
        started = time.perf_counter()
        prod = system.producer
        await helpers.notify_company_role.using(producer=prod)(
            company_id=company, role="staff", title=title, message="bench"
        )
        await asyncio.wait_for(done.wait(), 60)
        spread = [t - started for t in rx.arrivals[title]]
        latencies.extend(spread)
        last.append(max(spread))
    return {**percentiles(latencies), "last_socket_ms": round(statistics.median(last) * 1000, 2)}


def table(result: dict[str, Any]) -> str:
    rows = [
        "| measure | n | p50 ms | p99 ms | mean ms | max ms |",
        "|---|---|---|---|---|---|",
    ]
    for name in ("single", "fanout"):
        r = result[name]
        cells = [name, *(str(r[k]) for k in ("n", "p50_ms", "p99_ms", "mean_ms", "max_ms"))]
        rows.append("| " + " | ".join(cells) + " |")
    return "\n".join(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200, help="connected sockets (one a user)")
    parser.add_argument("--notifications", type=int, default=100, help="single notifications")
    parser.add_argument("--rate", type=float, default=5.0, help="single notifications a second")
    parser.add_argument("--fanouts", type=int, default=5, help="fan-outs to every client")
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--database-url", default=None, help="default: a temporary SQLite file")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(table(result))
    print(f"fan-out: median time until the last of {args.clients} sockets got it: "
          f"{result['fanout']['last_socket_ms']} ms")  # fmt: skip


if __name__ == "__main__":
    main()
