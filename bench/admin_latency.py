"""Latency of the queue admin API with many jobs in the queues (see bench/README.md).

Fills the six queues with jobs under a fresh key prefix (each queue paused, so they stay
waiting; spread over ``--companies``, stamped and indexed as the producer does), starts
``ils serve --no-workers`` on that prefix with a throw-away SQLite database and one user of the
first company (``--role admin``: its company's view; ``platform_admin``: every company's), logs in,
and times sequential requests to ``GET /api/queue/stats`` and to pages of
``GET /api/queue/{queue}/jobs?state=waiting``. Deletes every key of the prefix afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from bullmq import Queue

from ils.domain.base import Base
from ils.domain.db import Database
from ils.domain.enums import CompanyKind, Role
from ils.domain.models.accounts import Company, User
from ils.domain.passwords import hash_password
from ils.queue import keys
from ils.queue.broker import make_client
from ils.queue.embedded import free_port
from ils.queue.outbox_table import outbox_metadata
from ils.queue.settings import QUEUE_NAMES
from ils.queue.tenancy import COMPANY_FIELD
from redis_scope import DEFAULT_URL, checked_url, delete_prefix, new_prefix, redacted
from reporting import percentile

EMAIL = "bench-admin@bench.localhost"
PASSWORD = "bench admin password"
CHUNK = 2_000
PAGE_SIZE = 50


async def fill(url: str, prefix: str, total: int, company_id: int, companies: int) -> float:
    """``total`` small jobs spread over the six queues, each queue paused, and over
    ``companies`` companies (``company_id`` and the ids after it, in turn), stamped and indexed
    as the producer does (``ils.queue.tenancy``); seconds taken."""
    client = make_client(url, "producer")
    started = time.perf_counter()
    try:
        per_queue = total // len(QUEUE_NAMES)
        for name in QUEUE_NAMES:
            queue = Queue(name, {"connection": client, "prefix": prefix})
            await queue.pause()
            for start in range(0, per_queue, CHUNK):
                size = min(CHUNK, per_queue - start)
                ids = [f"bench-{start + i}" for i in range(size)]
                owner = [company_id + (start + i) % companies for i in range(size)]
                now = int(time.time() * 1000)
                for company in set(owner):
                    mine = [j for j, c in zip(ids, owner, strict=True) if c == company]
                    index = keys.company_jobs(prefix, name, company)
                    await client.zadd(index, dict.fromkeys(mine, now))
                jobs = [
                    {"name": "bench-noop", "data": {"n": start + i, COMPANY_FIELD: owner[i]},
                     "opts": {"jobId": j}}
                    for i, j in enumerate(ids)
                ]  # fmt: skip
                await queue.addBulk(jobs)
    finally:
        await client.aclose()
    return time.perf_counter() - started


async def make_database(path: Path, role: Role) -> tuple[str, int]:
    url = f"sqlite+aiosqlite:///{path}"
    db = Database(url)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(Base.metadata.create_all)
            await conn.run_sync(outbox_metadata.create_all)
        async with db.session() as s:
            company = Company(name="Bench", slug="bench", kind=CompanyKind.lab)
            s.add(company)
            await s.flush()
            s.add(
                User(
                    company_id=company.id,
                    email=EMAIL,
                    name="bench",
                    password_hash=hash_password(PASSWORD),
                    role=role,
                )
            )
            company_id = company.id
    finally:
        await db.dispose()
    return url, company_id


async def start_server(env: dict[str, str], port: int) -> asyncio.subprocess.Process:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ils", "serve", "--no-workers", "--port", str(port),
        "--log-level", "WARNING",
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200:
                    return proc
            await asyncio.sleep(0.1)
    proc.kill()
    raise RuntimeError("ils serve did not answer within 30 s")


async def timed(client: httpx.AsyncClient, path: str, n: int, warmup: int) -> dict[str, float]:
    for _ in range(warmup):
        (await client.get(path)).raise_for_status()
    samples = []
    for _ in range(n):
        started = time.perf_counter_ns()
        response = await client.get(path)
        samples.append(time.perf_counter_ns() - started)
        response.raise_for_status()
    ms = [s / 1e6 for s in samples]
    return {
        "n": n,
        "p50_ms": round(percentile(ms, 50), 2),
        "p99_ms": round(percentile(ms, 99), 2),
        "max_ms": round(max(ms), 2),
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    url = checked_url(args.redis_url)
    prefix = new_prefix()
    results: dict[str, Any] = {"redis": redacted(url), "jobs": args.jobs, "requests": args.requests}
    proc = None
    with tempfile.TemporaryDirectory() as tmp:
        try:
            database, company_id = await make_database(Path(tmp) / "bench.db", Role(args.role))
            filled = await fill(url, prefix, args.jobs, company_id, args.companies)
            results["fill_s"] = round(filled, 1)
            results["role"], results["companies"] = args.role, args.companies
            env = dict(os.environ) | {
                "REDIS_URL": url,
                "ILS_REDIS_PREFIX": prefix,
                "ILS_VAR_DIR": str(Path(tmp) / "var"),
                "DATABASE_URL": database,
            }
            port = free_port()
            proc = await start_server(env, port)
            base = f"http://127.0.0.1:{port}"
            async with httpx.AsyncClient(base_url=base, timeout=30) as client:
                login = {"email": EMAIL, "password": PASSWORD}
                (await client.post("/api/auth/login", json=login)).raise_for_status()
                stats = (await client.get("/api/queue/stats")).json()
                per_queue = stats["oma"]["waiting"]
                last_page = max(1, -(-per_queue // PAGE_SIZE))
                page = f"/api/queue/oma/jobs?state=waiting&page_size={PAGE_SIZE}&page="
                paths = {
                    "GET /api/queue/stats": "/api/queue/stats",
                    "jobs page 1": f"{page}1",
                    f"jobs page {last_page // 2} (middle)": f"{page}{last_page // 2}",
                    f"jobs page {last_page} (last)": f"{page}{last_page}",
                }
                results["latency"] = {
                    label: await timed(client, path, args.requests, args.warmup)
                    for label, path in paths.items()
                }
                results["waiting_per_queue"] = per_queue
        finally:
            if proc is not None and proc.returncode is None:
                proc.terminate()
                await proc.wait()
            results["deleted_keys"] = await asyncio.to_thread(delete_prefix, url, prefix)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument(
        "--role",
        choices=["admin", "platform_admin"],
        default="admin",
        help="admin: the first company's view (its index); platform_admin: every company's",
    )
    parser.add_argument("--companies", type=int, default=1, help="companies owning the jobs")
    args = parser.parse_args()
    results = asyncio.run(run(args))
    print(json.dumps(results, indent=2))
    print("\n| request | p50 ms | p99 ms | max ms |\n|---|---|---|---|")
    for label, row in results["latency"].items():
        print(f"| {label} | {row['p50_ms']} | {row['p99_ms']} | {row['max_ms']} |")


if __name__ == "__main__":
    main()
