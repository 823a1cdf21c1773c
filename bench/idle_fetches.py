"""Benchmark: fetch scripts a job costs when jobs reach an idle queue, ILS's worker against the
engine's.

A queue that receives jobs one at a time (each added once its worker is back to blocking on the
queue's marker, the way a quiet queue sees its traffic) is where a worker's idle slots fetch for
nothing. For each concurrency, a bare ``bullmq.Worker`` (the engine, its defaults) and ILS's
worker (``WorkerRuntime``) each take ``--jobs`` no-op jobs so; the bench counts the calls of the
fetch script (``moveToActive``, each one Redis script run and one round trip) and the worker
process's CPU time (both sides run in this process: the CPU is the whole process's, the same
bench code on both sides) per job.

    .venv/bin/python bench/idle_fetches.py [--jobs 30] [--concurrency 10 50]
                                           [--redis-url redis://127.0.0.1:6379/9]

Talks only to a Redis on this machine, under a fresh key prefix it deletes at the end.
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.*

from bullmq import Queue, Worker
from tests.support.fetch_counts import one_at_a_time

from noop_jobs import JOB_NAME, QUEUE, payload_data
from redis_scope import DEFAULT_URL, OurSide, scoped_run
from reporting import git_commit, write_json

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "idle_fetches.json"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=30)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    return parser.parse_args(argv)


async def counted_per_job(worker: Any, add: Any, jobs: int) -> dict[str, float]:
    """Fetch scripts and CPU milliseconds a job, ``jobs`` jobs each added to an idle queue."""
    counted = await one_at_a_time(worker, add, jobs)
    return {"fetches_per_job": counted.per_job, "cpu_ms_per_job": counted.cpu_s * 1000 / jobs}


async def engine_side(url: str, prefix: str, concurrency: int, jobs: int) -> dict[str, float]:
    opts = {"connection": url, "prefix": prefix}
    queue = Queue(QUEUE, opts)

    async def noop(_job: Any, _token: str) -> None:
        return None

    worker = Worker(QUEUE, noop, {**opts, "concurrency": concurrency})
    try:

        async def add(seq: int) -> None:
            await queue.add(JOB_NAME, payload_data(seq, "x"))

        return await counted_per_job(worker, add, jobs)
    finally:
        await worker.close()
        await queue.close()


async def our_side(url: str, prefix: str, concurrency: int, jobs: int) -> dict[str, float]:
    ours = OurSide(url, prefix, concurrency=concurrency)
    runtime = ours.runtime()
    await runtime.start()
    try:
        await runtime.wait_started(30)

        async def add(seq: int) -> None:
            await ours.producer.enqueue(QUEUE, JOB_NAME, payload_data(seq, "x"))

        return await counted_per_job(runtime.workers[QUEUE], add, jobs)
    finally:
        await runtime.stop()
        await ours.close()


async def measure(url: str, prefix: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for concurrency in args.concurrency:
        engine = await engine_side(url, f"{prefix}:raw{concurrency}", concurrency, args.jobs)
        ours = await our_side(url, f"{prefix}:ils{concurrency}", concurrency, args.jobs)
        rows.append({"concurrency": concurrency, "engine": engine, "ILS": ours})
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    rows = scoped_run(args.redis_url, lambda url, prefix: measure(url, prefix, args))
    print(f"commit {git_commit()}, {datetime.now(UTC).isoformat(timespec='seconds')}, "
          f"{args.jobs} jobs a side")  # fmt: skip
    print("| concurrency | worker | fetch scripts a job | CPU ms a job | / engine |")
    print("|---:|---|---:|---:|---:|")
    for row in rows:
        base = row["engine"]["fetches_per_job"]
        for side in ("engine", "ILS"):
            got = row[side]
            fetches, cpu = got["fetches_per_job"], got["cpu_ms_per_job"]
            print(f"| {row['concurrency']} | {side} | {fetches:.1f} | {cpu:.2f} "
                  f"| {fetches / base:.2f} |")  # fmt: skip
    write_json({"commit": git_commit(), "args": vars(args), "rows": rows}, RESULTS_FILE)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
