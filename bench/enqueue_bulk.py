"""Benchmark: single and bulk enqueue, ours against the engine's, in the same run.

Five ways of adding the same ``bench-noop`` jobs (same payload, the options ours builds, the same
Redis), each timed in alternating blocks after a warm-up:

- ``single ours``: sequential ``Producer.enqueue`` (validation, options, company, size check,
  the engine's add script without its ``Job`` object);
- ``single ours company``: the same as a company's jobs (each one's entry in the company's
  index written in the same round trip as its add: what tenant-scoped job lists read);
- ``single engine``: sequential ``bullmq.Queue.add`` (no validation at all);
- ``bulk ours``: ``Producer.enqueue_many`` with ``--bulk`` payloads a call;
- ``bulk engine``: ``bullmq.Queue.addBulk`` with the same jobs.

For each: jobs/s (wall), CPU µs a job of this process (``time.process_time``: less noisy than wall
time on a shared machine), and for the single ones the p50/p99 latency. Prints the ratios (ours /
engine; bulk / single) and writes everything to ``bench/results/enqueue_bulk.json``.

    .venv/bin/python bench/enqueue_bulk.py [--jobs 5000] [--bulk 1000] [--blocks 6]
                                           [--redis-url redis://127.0.0.1:6379/9]

Talks only to a Redis on this machine, under a fresh key prefix it deletes at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bullmq import Queue

from ils.queue.broker import make_client
from ils.queue.producer import job_options
from noop_jobs import JOB_NAME, QUEUE, filler, payload_data
from redis_scope import DEFAULT_URL, OurSide, checked_url, delete_prefix, new_prefix
from reporting import git_commit, latency_stats, ratio, write_json

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "enqueue_bulk.json"
# (name, way, other way, field) of each ratio of totals printed (ours / the other).
RATIOS = (
    ("single ours/engine jobs/s", "single_ours", "single_engine", "jobs_per_s"),
    ("single ours/engine CPU per job", "single_ours", "single_engine", "cpu_us_per_job"),
    ("single ours/engine p50", "single_ours", "single_engine", "p50_us"),
    ("single company's / system job jobs/s", "single_ours_company", "single_ours", "jobs_per_s"),
    ("bulk ours/engine jobs/s", "bulk_ours", "bulk_engine", "jobs_per_s"),
    ("bulk ours / single ours jobs/s", "bulk_ours", "single_ours", "jobs_per_s"),
)
#: The company of the ``single ours company`` way: its jobs are indexed (the company's job list).
COMPANY = 7
# One block: a number of jobs added one way, returning per-call latencies (ns) for single ways.
Block = Callable[[int, int], Awaitable[list[int]]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--jobs", type=int, default=5000, help="timed jobs per way and block")
    parser.add_argument("--bulk", type=int, default=1000, help="jobs per bulk call")
    parser.add_argument("--blocks", type=int, default=6, help="alternating blocks per way")
    parser.add_argument("--payload-bytes", type=int, default=256)
    args = parser.parse_args(argv)
    args.redis_url = checked_url(args.redis_url)
    return args


async def measure(
    url: str, prefix: str, jobs: int, bulk: int, blocks: int, size: int
) -> dict[str, Any]:
    ours_side = OurSide(url, f"{prefix}:ils", concurrency=1)
    producer = ours_side.producer
    engine = Queue(QUEUE, {"connection": make_client(url, "producer"), "prefix": f"{prefix}:raw"})
    job_type = ours_side.registry.get(QUEUE, JOB_NAME)
    opts = job_options(job_type, ours_side.settings.queue(QUEUE), None)
    blob = filler(size)

    async def single_ours(first: int, count: int) -> list[int]:
        out = []
        for seq in range(first, first + count):
            started = time.perf_counter_ns()
            await producer.enqueue(QUEUE, JOB_NAME, payload_data(seq, blob))
            out.append(time.perf_counter_ns() - started)
        return out

    async def single_ours_company(first: int, count: int) -> list[int]:
        out = []
        for seq in range(first, first + count):
            started = time.perf_counter_ns()
            await producer.enqueue(QUEUE, JOB_NAME, payload_data(seq, blob), company_id=COMPANY)
            out.append(time.perf_counter_ns() - started)
        return out

    async def single_engine(first: int, count: int) -> list[int]:
        out = []
        for seq in range(first, first + count):
            started = time.perf_counter_ns()
            await engine.add(JOB_NAME, payload_data(seq, blob), opts)
            out.append(time.perf_counter_ns() - started)
        return out

    async def bulk_ours(first: int, count: int) -> list[int]:
        for start in range(first, first + count, bulk):
            payloads = [
                payload_data(s, blob) for s in range(start, min(start + bulk, first + count))
            ]
            await producer.enqueue_many(QUEUE, JOB_NAME, payloads)
        return []

    async def bulk_engine(first: int, count: int) -> list[int]:
        for start in range(first, first + count, bulk):
            end = min(start + bulk, first + count)
            await engine.addBulk(
                [
                    {"name": JOB_NAME, "data": payload_data(s, blob), "opts": opts}
                    for s in range(start, end)
                ]
            )
        return []

    ways: dict[str, Block] = {
        "single_ours": single_ours,
        "single_ours_company": single_ours_company,
        "single_engine": single_engine,
        "bulk_ours": bulk_ours,
        "bulk_engine": bulk_engine,
    }
    wall = dict.fromkeys(ways, 0.0)
    cpu = dict.fromkeys(ways, 0.0)
    per_block: dict[str, list[tuple[float, float]]] = {name: [] for name in ways}
    latencies: dict[str, list[int]] = {name: [] for name in ways}
    seq = 0
    try:
        for block in ways.values():  # warm-up: connections, scripts
            await block(seq, 300)
            seq += 300
        names = list(ways)
        for b in range(blocks):
            for name in names if b % 2 == 0 else list(reversed(names)):
                started, cpu_started = time.perf_counter(), time.process_time()
                latencies[name] += await ways[name](seq, jobs)
                took, took_cpu = time.perf_counter() - started, time.process_time() - cpu_started
                wall[name] += took
                cpu[name] += took_cpu
                per_block[name].append((took, took_cpu))
                seq += jobs
    finally:
        await engine.close()
        await ours_side.close()
    total = jobs * blocks
    rows = {
        name: {
            "jobs_per_s": round(total / wall[name]),
            "cpu_us_per_job": round(cpu[name] / total * 1e6, 1),
            **({"latency": latency_stats(latencies[name])} if latencies[name] else {}),
            **({"p50_us": latency_stats(latencies[name])["p50_us"]} if latencies[name] else {}),
        }
        for name in ways
    }

    def block_ratio(ours: str, theirs: str, index: int) -> float:
        """The median over blocks of ``theirs``' time / ``ours``' time (above 1: ours faster),
        each pair measured minutes apart at most: steadier than totals on a loaded machine."""
        pairs = zip(per_block[ours], per_block[theirs], strict=True)
        return round(statistics.median(t[index] / o[index] for o, t in pairs), 3)

    return {
        "ways": rows,
        "block_medians (speed ratio, >1: first faster)": {
            "single ours vs engine, wall": block_ratio("single_ours", "single_engine", 0),
            "single ours vs engine, CPU": block_ratio("single_ours", "single_engine", 1),
            "bulk ours vs engine, wall": block_ratio("bulk_ours", "bulk_engine", 0),
            "bulk ours vs engine, CPU": block_ratio("bulk_ours", "bulk_engine", 1),
            "bulk ours vs single ours, wall": block_ratio("bulk_ours", "single_ours", 0),
        },
        "ratios": {
            name: ratio(rows[ours][field], rows[theirs][field])
            for name, ours, theirs, field in RATIOS
        },
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    prefix = new_prefix()
    load_before = os.getloadavg()[0]
    try:
        result = asyncio.run(
            measure(args.redis_url, prefix, args.jobs, args.bulk, args.blocks, args.payload_bytes)
        )
    finally:
        delete_prefix(args.redis_url, prefix)
    result |= {
        "commit": git_commit(),
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        "jobs_per_way": args.jobs * args.blocks,
        "bulk": args.bulk,
    }
    write_json(result, RESULTS_FILE)
    print(f"commit {result['commit']}, {result['date']}, load {result['load_average']}")
    print("| way | jobs/s | CPU µs/job | p50 µs |")
    print("|---|---:|---:|---:|")
    for name, row in result["ways"].items():
        p50 = row.get("latency", {}).get("p50_us", "")
        print(f"| {name} | {row['jobs_per_s']} | {row['cpu_us_per_job']} | {p50} |")
    for group in ("ratios", "block_medians (speed ratio, >1: first faster)"):
        print(f"{group}:")
        for name, value in result[group].items():
            print(f"  {name}: {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
