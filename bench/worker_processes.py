"""Scale-out on one machine (issue 21): no-op jobs/s drained by ``ils worker --processes 2``
against ``--processes 1``, next to bare BullMQ's own 2-against-1 in the same run.

*ours*: the real command, ``python -m ils worker --queues oma --import noop_jobs --processes N``
(one process for N = 1, as before; a supervisor and N worker processes otherwise), with the
settings of ``bench/run.py``'s throughput trials (concurrency 50 per process, no rate limit) on a
migrated SQLite database in a temporary var directory. *raw*: ``drain_throughput.trial`` with
bare ``bullmq.Worker`` processes (spawned, a no-op processor, the same concurrency and retention).

One trial of ours: pause the queue, pre-fill M jobs, start the command and wait until each of
its N workers has said ``ready``; then resume — the clock starts — and poll until nothing waits
or runs (``drain_throughput.timed_drain``, the same as the raw side's). The worker processes' CPU
time over the drain is read from ``/proc`` (their pids from the supervisor's log). SIGTERM then
stops the command, which must exit 0. Repeats alternate which side goes first.

    .venv/bin/python bench/worker_processes.py [--jobs 20000] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bullmq import Queue

import drain_throughput
from drain_throughput import prefill, timed_drain
from ils.jobs import build_registry
from ils.queue.broker import make_client
from ils.queue.producer import job_options
from noop_jobs import JOB_NAME, MODULE, QUEUE, filler
from redis_scope import DEFAULT_URL, checked_url, delete_prefix, ils_settings, new_prefix
from worker_start import cpu_s, migrated_var_dir

BENCH = Path(__file__).resolve().parent
PROCESS_COUNTS = (1, 2)
STARTED = re.compile(r"worker process \d+/\d+ started \(pid (\d+)\)")
READY_TIMEOUT_S = 120.0


def worker_env(url: str, prefix: str, var: Path, concurrency: int) -> dict[str, str]:
    """The command's environment: ``bench/run.py``'s settings (as ``ils_settings`` makes them)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    return env | {
        "REDIS_URL": url,
        "ILS_REDIS_PREFIX": prefix,
        "ILS_VAR_DIR": str(var),
        "ILS_SHUTDOWN_GRACE_S": "5",
        f"ILS_QUEUE_{QUEUE.upper()}_CONCURRENCY": str(concurrency),
        f"ILS_QUEUE_{QUEUE.upper()}_RATE_MAX": "none",
        "PYTHONPATH": str(BENCH),
    }


async def _until_ready(proc: asyncio.subprocess.Process, processes: int) -> list[int]:
    """Read the command's output until its ``processes`` workers are ready; their pids."""
    assert proc.stdout is not None
    pids: list[int] = []
    ready = 0
    seen: list[str] = []
    while ready < processes:
        raw = await asyncio.wait_for(proc.stdout.readline(), READY_TIMEOUT_S)
        if not raw:
            raise RuntimeError("ils worker ended before ready:\n" + "".join(seen))
        line = raw.decode(errors="replace")
        seen.append(line)
        if found := STARTED.search(line):
            pids.append(int(found[1]))
        ready += "ready: worker" in line
    return pids if processes > 1 else [proc.pid]


async def _discard(stream: asyncio.StreamReader) -> None:
    while await stream.readline():
        pass


async def ours_trial(
    url: str, prefix: str, var: Path, processes: int, jobs: int, concurrency: int, limit_s: float
) -> dict[str, Any]:
    settings = ils_settings(url, prefix, concurrency)
    spec = settings.queue(QUEUE)
    opts = job_options(build_registry((MODULE,)).get(QUEUE, JOB_NAME), spec, None)
    queue = Queue(QUEUE, {"connection": make_client(url, "admin"), "prefix": prefix})
    command = [sys.executable, "-m", "ils", "worker", "--queues", QUEUE, "--import", MODULE,
               "--processes", str(processes)]  # fmt: skip
    proc = None
    try:
        await queue.pause()
        await prefill(queue, jobs, opts, filler(256))
        proc = await asyncio.create_subprocess_exec(
            *command, env=worker_env(url, prefix, var, concurrency),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
        )  # fmt: skip
        pids = await _until_ready(proc, processes)
        assert proc.stdout is not None
        draining = asyncio.create_task(_discard(proc.stdout))  # the pipe must not fill up
        cpu_before = sum(cpu_s(pid) for pid in pids)
        seconds, polls = await timed_drain(queue, jobs, spec.keep_completed_count, "ours", limit_s)
        cpu = sum(cpu_s(pid) for pid in pids) - cpu_before
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 60)
        await draining
        if code != 0:
            raise RuntimeError(f"ils worker --processes {processes} exited {code}")
    finally:
        if proc is not None and proc.returncode is None:
            proc.kill()
            await proc.wait()
        await queue.close()
        await asyncio.to_thread(delete_prefix, url, prefix)
    return {
        "side": "ours",
        "processes": processes,
        "jobs": jobs,
        "seconds": round(seconds, 4),
        "jobs_per_s": round(jobs / seconds, 1),
        "worker_cpu_us_per_job": round(cpu / jobs * 1e6, 1),
        "polls": polls,
    }


async def run(args: argparse.Namespace, var: Path) -> list[dict[str, Any]]:
    trials = []
    limit_s = max(120.0, args.jobs / 50)
    for repeat in range(args.repeats):
        for processes in PROCESS_COUNTS:
            order = ("ours", "raw") if repeat % 2 == 0 else ("raw", "ours")
            for side in order:
                prefix = new_prefix()
                print(f"repeat {repeat + 1}, {processes} process(es), {side} ...", file=sys.stderr)
                if side == "ours":
                    result = await ours_trial(
                        args.redis_url, prefix, var, processes, args.jobs, args.concurrency,
                        limit_s,
                    )  # fmt: skip
                else:
                    result = await drain_throughput.trial(
                        args.redis_url, prefix, "raw", processes, args.jobs, args.concurrency,
                        256, limit_s,
                    )  # fmt: skip
                result["repeat"] = repeat
                print(f"  {result['jobs_per_s']:.0f} jobs/s", file=sys.stderr)
                trials.append(result)
    return trials


def report(
    trials: list[dict[str, Any]], args: argparse.Namespace, load: tuple[float, float]
) -> None:
    def median(side: str, processes: int, what: str) -> float:
        return statistics.median(
            t[what] for t in trials if t["side"] == side and t["processes"] == processes
        )

    print(
        f"commit {args.commit}, {args.started}, "
        f"{args.jobs} jobs, concurrency {args.concurrency} per process, {args.repeats} repeats "
        f"(medians), load average {load[0]:.1f} before, {load[1]:.1f} after, "
        f"{os.cpu_count()} cores\n"
    )
    print("| side | 1 process | 2 processes | 2 / 1 | worker CPU per job, 1 / 2 |")
    print("|---|---|---|---|---|")
    for side, name in (("raw", "bare bullmq"), ("ours", "`ils worker --processes N`")):
        one, two = median(side, 1, "jobs_per_s"), median(side, 2, "jobs_per_s")
        cpu1, cpu2 = (median(side, n, "worker_cpu_us_per_job") for n in (1, 2))
        print(
            f"| {name} | {one:,.0f} jobs/s | {two:,.0f} jobs/s | {two / one:.2f} | "
            f"{cpu1:.0f} / {cpu2:.0f} µs |"
        )
    for repeat in range(args.repeats):
        rate = {
            (t["side"], t["processes"]): t["jobs_per_s"] for t in trials if t["repeat"] == repeat
        }
        print(
            f"repeat {repeat + 1}: 2 / 1 ours {rate['ours', 2] / rate['ours', 1]:.2f}, "
            f"bare {rate['raw', 2] / rate['raw', 1]:.2f}"
        )
    ours = median("ours", 2, "jobs_per_s") / median("ours", 1, "jobs_per_s")
    raw = median("raw", 2, "jobs_per_s") / median("raw", 1, "jobs_per_s")
    print(f"\nours scales 2-against-1 by {ours:.2f}, bare bullmq by {raw:.2f} ({ours / raw:.0%})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--jobs", type=int, default=20000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="2,000 jobs, one repeat")
    args = parser.parse_args()
    if args.quick:
        args.jobs, args.repeats = 2000, 1
    args.redis_url = checked_url(args.redis_url)
    args.commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=BENCH, capture_output=True, text=True
    ).stdout.strip()
    args.started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load_before = os.getloadavg()[0]
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    with tempfile.TemporaryDirectory() as tmp:
        var = migrated_var_dir(Path(tmp), base_env)
        trials = asyncio.run(run(args, var))
    report(trials, args, (load_before, os.getloadavg()[0]))


if __name__ == "__main__":
    main()
