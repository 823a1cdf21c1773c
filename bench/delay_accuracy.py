"""Benchmark: how late a delayed job runs after its due time, ILS's worker against the engine's.

Both sides get the same delayed ``bench-noop`` jobs (delays drawn between ``--min-ms`` and
``--max-ms``, one job at a time, each added once the one before has run, so a queue never holds
two), on one Redis under a fresh key prefix each:

- ``engine``: a bare ``bullmq.Worker`` with its defaults on its own prefix, fed by ``Queue.add``;
- ``ILS``: ``ils.queue.runtime.WorkerRuntime`` (the worker ``ils worker`` runs), fed by the
  producer.

**Late** is the job's ``processedOn`` minus its due time (its ``timestamp`` plus the delay it was
added with: the engine resets ``delay`` to 0 once it moves the job to waiting). The sides run one
after the other, alternating in blocks. Prints p50/p99/max per side and writes
``bench/results/delay_accuracy.json``.

    .venv/bin/python bench/delay_accuracy.py [--jobs 20] [--blocks 2] [--min-ms 100] [--max-ms 2500]
                                             [--redis-url redis://127.0.0.1:6379/9]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bullmq import Queue, Worker

from ils.queue.producer import EnqueueOptions
from noop_jobs import JOB_NAME, QUEUE, payload_data
from redis_scope import DEFAULT_URL, OurSide, scoped_run
from reporting import git_commit, percentile, write_json

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "delay_accuracy.json"
POLL_S = 0.01  # how often the bench reads the job back; bounds only the bench's own wait
# Adds one job delayed by the given ms, returns its id.
Add = Callable[[int, int], Awaitable[str]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=20, help="delayed jobs per side per block")
    parser.add_argument("--blocks", type=int, default=2)
    parser.add_argument("--min-ms", type=int, default=100)
    parser.add_argument("--max-ms", type=int, default=2500)
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    return parser.parse_args(argv)


async def lateness(queue: Queue, add: Add, delays: list[int]) -> list[int]:
    """Each job's ms after its due time, added one at a time."""
    out = []
    for seq, delay in enumerate(delays):
        job_id = await add(seq, delay)
        while True:
            job = await queue.getJob(job_id)
            if job is not None and job.processedOn:
                out.append(int(job.processedOn - (job.timestamp + delay)))
                break
            await asyncio.sleep(POLL_S)
    return out


async def measure(url: str, prefix: str, args: argparse.Namespace) -> dict[str, list[int]]:
    rng = random.Random(21)
    ours = OurSide(url, f"{prefix}:ils", concurrency=1)
    runtime = ours.runtime()
    engine_opts = {"connection": url, "prefix": f"{prefix}:raw"}
    engine_queue = Queue(QUEUE, engine_opts)

    async def engine_done(_job: Any, _token: str) -> None:
        return None

    engine = Worker(QUEUE, engine_done, engine_opts)
    await runtime.start()
    await runtime.wait_started(30)
    our_queue = ours.broker.queues.get(QUEUE)

    async def add_ours(seq: int, delay: int) -> str:
        options = EnqueueOptions(delay_s=delay / 1000)
        added = await ours.producer.enqueue(QUEUE, JOB_NAME, payload_data(seq, "x"), options)
        return added.job_id

    async def add_engine(seq: int, delay: int) -> str:
        return str((await engine_queue.add(JOB_NAME, payload_data(seq, "x"), {"delay": delay})).id)

    late: dict[str, list[int]] = {"engine": [], "ILS": []}
    try:
        for block in range(args.blocks):
            delays = [rng.randint(args.min_ms, args.max_ms) for _ in range(args.jobs)]
            sides = [("engine", engine_queue, add_engine), ("ILS", our_queue, add_ours)]
            for name, queue, add in sides if block % 2 == 0 else sides[::-1]:
                late[name] += await lateness(queue, add, delays)
    finally:
        await engine.close()
        await engine_queue.close()
        await runtime.stop()
        await ours.close()
    return late


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    late = scoped_run(args.redis_url, lambda url, prefix: measure(url, prefix, args))
    print(f"commit {git_commit()}, {datetime.now(UTC).isoformat(timespec='seconds')}")
    print("| worker | jobs | late p50 ms | late p99 ms | late max ms |")
    print("|---|---:|---:|---:|---:|")
    summary = {}
    for name, values in late.items():
        row = {"jobs": len(values), "p50_ms": percentile(values, 50),
               "p99_ms": percentile(values, 99), "max_ms": max(values)}  # fmt: skip
        summary[name] = row
        print(f"| {name} | {row['jobs']} | {row['p50_ms']:.0f} | {row['p99_ms']:.0f} "
              f"| {row['max_ms']} |")  # fmt: skip
    write_json({"commit": git_commit(), "args": vars(args), "summary": summary, "late_ms": late},
               RESULTS_FILE)  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
