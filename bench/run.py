"""Entry point of the ILS Jobs benchmarks: our job system against raw BullMQ, in the same run.

    python bench/run.py [--redis-url URL] [--enqueues N] [--jobs M] [--quick]

Measures (a) single-enqueue latency (p50/p99/mean) and (b) no-op jobs/s with one and two worker
processes, each next to raw ``bullmq`` on the same Redis, machine and payload size. Prints a
markdown table of ``ours / raw`` ratios and writes everything to ``bench/results/latest.json``.
Only a Redis on 127.0.0.1/localhost is accepted; all keys live under a fresh prefix, deleted at
the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shlex
import sys
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import drain_throughput
import enqueue_latency
from redis_scope import (
    DEFAULT_URL,
    checked_url,
    delete_prefix,
    new_prefix,
    redacted,
    server_version,
)
from reporting import THROUGHPUT_GOAL, markdown_table, summarize_throughput, write_json

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "latest.json"
PROCESS_COUNTS = (1, 2)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--redis-url", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    parser.add_argument("--enqueues", type=int, help="timed enqueues per side (default 5000)")
    parser.add_argument("--jobs", type=int, help="no-op jobs per throughput trial (default 20000)")
    parser.add_argument("--repeats", type=int, help="throughput trials per case (default 5)")
    parser.add_argument(
        "--concurrency", type=int, default=50, help="worker concurrency, both sides"
    )
    parser.add_argument("--payload-bytes", type=int, default=256, help="job data size as JSON")
    parser.add_argument(
        "--quick", action="store_true", help="small sizes, one repeat (a smoke run)"
    )
    args = parser.parse_args(argv)
    quick = {"enqueues": 1000, "jobs": 2000, "repeats": 1}
    full = {"enqueues": 5000, "jobs": 20000, "repeats": 5}
    for name, value in (quick if args.quick else full).items():
        if getattr(args, name) is None:
            setattr(args, name, value)
    for name in ("enqueues", "jobs", "repeats", "concurrency"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    try:
        args.redis_url = checked_url(args.redis_url)
    except ValueError as exc:
        parser.error(str(exc))
    return args


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def run_benchmarks(args: argparse.Namespace, prefix: str) -> dict[str, Any]:
    log(f"enqueue latency: {args.enqueues} sequential enqueues per side ...")
    latency = await enqueue_latency.measure(
        args.redis_url,
        f"{prefix}:lat",
        enqueues=args.enqueues,
        payload_bytes=args.payload_bytes,
        warmup=min(500, max(50, args.enqueues // 10)),
        blocks=10,
    )
    await asyncio.to_thread(delete_prefix, args.redis_url, f"{prefix}:lat")

    trials = []
    limit_s = max(120.0, args.jobs / 50)
    for repeat in range(args.repeats):
        for processes in PROCESS_COUNTS:
            order = ("ours", "raw") if repeat % 2 == 0 else ("raw", "ours")
            for side in order:
                log(
                    f"throughput: repeat {repeat + 1}/{args.repeats}, {processes} process(es), "
                    f"{side}, {args.jobs} jobs ..."
                )
                result = await drain_throughput.trial(
                    args.redis_url,
                    f"{prefix}:tp{repeat}{processes}{side}",
                    side=side,
                    processes=processes,
                    jobs=args.jobs,
                    concurrency=args.concurrency,
                    payload_bytes=args.payload_bytes,
                    limit_s=limit_s,
                )
                result["repeat"] = repeat
                log(
                    f"  {result['jobs_per_s']:.0f} jobs/s ({result['seconds']:.2f}s), "
                    f"worker CPU {result['worker_cpu_us_per_job']:.1f} µs/job"
                )
                trials.append(result)
    return {
        "enqueue_latency": latency,
        "throughput": {
            "jobs": args.jobs,
            "concurrency": args.concurrency,
            "repeats": args.repeats,
            "goal_min_ratio": THROUGHPUT_GOAL,
            "summary": summarize_throughput(trials),
            "trials": trials,
        },
    }


def load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except (AttributeError, OSError):
        return None


def command_line(argv: list[str]) -> str:
    return " ".join(["python", "bench/run.py", *(shlex.quote(a) for a in argv)])


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    prefix = new_prefix()
    started = datetime.now(UTC)
    load_before = load_average()
    if load_before is not None and load_before > 0.5:
        log(f"note: load average {load_before:.2f} before the run; other load widens the spread")
    try:
        results = asyncio.run(run_benchmarks(args, prefix))
    finally:
        delete_prefix(args.redis_url, prefix)
    results = {
        "date": started.isoformat(timespec="seconds"),
        "command": command_line(argv),
        "settings": {
            "redis_url": redacted(args.redis_url),
            "enqueues": args.enqueues,
            "jobs": args.jobs,
            "repeats": args.repeats,
            "concurrency": args.concurrency,
            "payload_bytes": args.payload_bytes,
            "quick": args.quick,
        },
        "environment": {
            "python": platform.python_version(),
            "bullmq": version("bullmq"),
            "redis_py": version("redis"),
            "pydantic": version("pydantic"),
            "redis_server": server_version(args.redis_url),
            "cpus": os.cpu_count(),
            # 1-minute load average: what else ran on the machine (the bench itself adds ~1-2).
            "load_average_before": load_before,
            "load_average_after": load_average(),
        },
        **results,
    }
    table = markdown_table(results)
    print(table)
    for row in results["throughput"]["summary"]:
        verdict = "meets" if row["meets_goal"] else "BELOW"
        print(
            f"\n{row['processes']} process(es): ours keeps {row['ratio']:.1%} of raw throughput "
            f"({verdict} the {THROUGHPUT_GOAL:.0%} goal)"
        )
    write_json(results, RESULTS_FILE)
    log(f"\nresults written to {RESULTS_FILE.relative_to(Path(__file__).resolve().parent.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
