"""ILS against its engine (bare ``bullmq``) in one run, on a Redis server of the bench's own.

    python bench/engine.py [--jobs 20000] [--enqueues 5000] [--repeats 1] [--quick]

Prints, ILS next to the engine: enqueue/s (``Producer.enqueue`` / ``Queue.add``), bulk enqueue/s
(``Producer.enqueue_many`` when the producer has it / ``Queue.addBulk``), drain jobs/s and worker
CPU per job at 1 and 2 processes (ILS's runtime; BullMQ with our options; BullMQ with its
defaults), worker start time and peak RSS (``bench/worker_start.py``'s measure), and for each the
Redis commands (by name, Lua scripts' inner commands included) and the Redis server's CPU per 1,000
jobs. The enqueues of the two sides alternate in blocks (``ENQUEUE_BLOCKS``). The server is started
here on a free port (``bench/redis_server.py``), so its counters hold the bench's work alone; the
drain's polling of the job counts is measured on its own and taken out. Everything goes to
``bench/results/engine.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bullmq import Queue

import drain_throughput
import worker_start
from ils.queue.broker import make_client
from noop_jobs import JOB_NAME, QUEUE, filler, payload_data
from redis_scope import OurSide, delete_prefix, new_prefix
from redis_server import ServerWork, own_server, per_thousand, snapshot
from reporting import ratio, write_json
from run import load_average, log

RESULTS_FILE = Path(__file__).resolve().parent / "results" / "engine.json"
BULK_CHUNK = 500
#: Commands the bench's own reads add to a window (the snapshots' INFO), left out.
NOT_COUNTED = ("info",)
DRAIN_SIDES = {"ours": "ILS", "raw": "engine, our options", "engine": "engine, its defaults"}

Step = Callable[[int], Awaitable[Any]]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20000, help="jobs per drain")
    parser.add_argument("--enqueues", type=int, default=5000, help="jobs per enqueue measure")
    parser.add_argument("--repeats", type=int, default=1, help="repeats of each measure")
    parser.add_argument("--concurrency", type=int, default=10, help="ILS and engine-with-ours")
    parser.add_argument("--payload-bytes", type=int, default=256)
    parser.add_argument("--start-rounds", type=int, default=3, help="worker starts per side")
    parser.add_argument("--quick", action="store_true", help="2,000 jobs, 500 enqueues")
    args = parser.parse_args(argv)
    if args.quick:
        args.jobs, args.enqueues, args.start_rounds = 2000, 500, 1
    return args


def work_record(work: ServerWork) -> dict[str, Any]:
    commands = {k: v for k, v in work.commands.most_common() if k not in NOT_COUNTED}
    return {
        "redis_commands": round(sum(commands.values()), 1),
        "redis_cpu_ms": round(work.cpu_s * 1000, 2),
        "by_command": commands,
    }


# -- enqueue -------------------------------------------------------------------------------------


#: Blocks each side's enqueues are split into, the sides alternating (ILS first in even blocks):
#: one side measured after the other drifted with the machine by more than they differ.
ENQUEUE_BLOCKS = 4


async def timed_enqueues(
    url: str, steps: dict[str, Step | None], count: int, per_call: int
) -> dict[str, Any]:
    """``count`` jobs through each side's step (one call per ``per_call`` jobs), after a warm-up
    call each, in :data:`ENQUEUE_BLOCKS` alternating blocks; per side the totals."""
    sides = {side: step for side, step in steps.items() if step is not None}
    for step in sides.values():
        await step(0)
    seconds = dict.fromkeys(sides, 0.0)
    work = {side: ServerWork() for side in sides}
    block = max(per_call, count // ENQUEUE_BLOCKS // per_call * per_call)
    first = per_call
    for index in range(ENQUEUE_BLOCKS):
        for side in list(sides) if index % 2 == 0 else list(sides)[::-1]:
            before = await asyncio.to_thread(snapshot, url)
            started = time.perf_counter()
            for call in range(first, first + block, per_call):
                await sides[side](call)
            seconds[side] += time.perf_counter() - started
            work[side] += await asyncio.to_thread(snapshot, url) - before
            first += block
    total = block * ENQUEUE_BLOCKS
    out: dict[str, Any] = dict.fromkeys(steps)
    for side in sides:
        out[side] = {
            "jobs_per_s": round(total / seconds[side], 1),
            **work_record(per_thousand(work[side], total)),
        }
    return out


async def enqueue_sides(url: str, args: argparse.Namespace, bulk: bool) -> dict[str, Any]:
    prefix = new_prefix()
    ours = OurSide(url, f"{prefix}:ils", args.concurrency)
    engine = Queue(QUEUE, {"connection": make_client(url, "producer"), "prefix": f"{prefix}:eng"})
    blob = filler(args.payload_bytes)
    per_call = BULK_CHUNK if bulk else 1

    def data(first: int) -> list[dict[str, Any]]:
        return [payload_data(seq, blob) for seq in range(first, first + per_call)]

    async def ils_one(first: int) -> Any:
        return await ours.producer.enqueue(QUEUE, JOB_NAME, data(first)[0])

    async def ils_many(first: int) -> Any:
        return await ours.producer.enqueue_many(QUEUE, JOB_NAME, data(first))  # type: ignore[attr-defined]

    async def engine_one(first: int) -> Any:
        return await engine.add(JOB_NAME, data(first)[0])

    async def engine_many(first: int) -> Any:
        return await engine.addBulk([{"name": JOB_NAME, "data": d} for d in data(first)])

    steps: dict[str, Step | None] = {
        "ours": (ils_many if hasattr(ours.producer, "enqueue_many") else None) if bulk else ils_one,
        "engine": engine_many if bulk else engine_one,
    }
    try:
        out = await timed_enqueues(url, steps, args.enqueues, per_call)
    finally:
        await engine.close()
        await ours.close()
        await asyncio.to_thread(delete_prefix, url, prefix)
    return out


# -- drain ---------------------------------------------------------------------------------------


async def poll_cost(url: str) -> ServerWork:
    """The server's work for one ``getJobCounts`` poll of the drain (nothing else running)."""
    prefix, polls = new_prefix(), 50
    queue = Queue(QUEUE, {"connection": make_client(url, "admin"), "prefix": prefix})
    try:
        await queue.getJobCounts(*drain_throughput.PENDING_STATES)  # scripts loaded
        before = await asyncio.to_thread(snapshot, url)
        for _ in range(polls):
            await queue.getJobCounts(*drain_throughput.PENDING_STATES)
        work = await asyncio.to_thread(snapshot, url) - before
    finally:
        await queue.close()
    return work.scaled(1 / polls)


async def drain(url: str, args: argparse.Namespace, side: str, processes: int) -> dict[str, Any]:
    snapshots = lambda: asyncio.to_thread(snapshot, url)  # noqa: E731
    result = await drain_throughput.trial(
        url, new_prefix(), side=side, processes=processes, jobs=args.jobs,
        concurrency=args.concurrency, payload_bytes=args.payload_bytes,
        limit_s=max(120.0, args.jobs / 50), probe=snapshots,
    )  # fmt: skip
    before, after = result.pop("probed")
    polls = args.poll_cost.scaled(result["polls"])
    result.update(work_record(per_thousand(after - before - polls, args.jobs)))
    return result


# -- worker start ---------------------------------------------------------------------------------


async def starts(url: str, rounds: int) -> dict[str, list[worker_start.Run]]:
    prefix = new_prefix()
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    worker_start.compile_sources()
    out: dict[str, list[worker_start.Run]] = {"ours": [], "engine": []}
    with tempfile.TemporaryDirectory() as tmp:
        var = worker_start.migrated_var_dir(Path(tmp), base_env)
        ils_env = base_env | {"REDIS_URL": url, "ILS_REDIS_PREFIX": prefix, "ILS_VAR_DIR": str(var)}
        cases = {
            "ours": ([sys.executable, "-m", "ils", "worker", "--queues", "notification"],
                     ils_env, "ready: worker"),
            "engine": ([sys.executable, "-c", worker_start.BARE_WORKER, url, prefix],
                       base_env, "ready"),
        }  # fmt: skip
        for _ in range(rounds):
            for side, (cmd, env, marker) in cases.items():
                out[side].append(await worker_start.measure(cmd, env, marker, 1.0))
    await asyncio.to_thread(delete_prefix, url, prefix)
    return out


# -- the run and its tables -----------------------------------------------------------------------


def median_of(runs: list[dict[str, Any]] | None, key: str) -> float | None:
    if not runs or runs[0] is None:
        return None
    return statistics.median(r[key] for r in runs)


async def run_all(url: str, args: argparse.Namespace) -> dict[str, Any]:
    args.poll_cost = await poll_cost(url)
    results: dict[str, Any] = {"enqueue": [], "bulk": [], "drain": {}, "start": {}}
    for repeat in range(args.repeats):
        for kind in ("enqueue", "bulk"):
            log(f"{kind}: {args.enqueues} jobs per side (repeat {repeat + 1}) ...")
            results[kind].append(await enqueue_sides(url, args, bulk=kind == "bulk"))
        for processes in (1, 2):
            sides = list(DRAIN_SIDES) if repeat % 2 == 0 else list(DRAIN_SIDES)[::-1]
            for side in sides:
                log(f"drain: {args.jobs} jobs, {processes} process(es), {side} ...")
                one = await drain(url, args, side, processes)
                log(f"  {one['jobs_per_s']:.0f} jobs/s, {one['redis_commands']:.0f} commands "
                    f"and {one['redis_cpu_ms']:.1f} ms Redis CPU per 1,000 jobs")  # fmt: skip
                results["drain"].setdefault(f"{side}-{processes}", []).append(one)
    log(f"worker start: {args.start_rounds} round(s) ...")
    for side, runs in (await starts(url, args.start_rounds)).items():
        results["start"][side] = {
            "ready_s": statistics.median(r.ready_s for r in runs),
            "peak_rss_mib": statistics.median(r.peak_rss_mib for r in runs),
        }
    results["poll_cost"] = work_record(args.poll_cost)
    return results


def fmt(value: float | None, digits: int = 0) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def main_table(res: dict[str, Any]) -> list[str]:
    rows = ["| measure | ILS | engine | ILS / engine |", "|---|---:|---:|---:|"]

    def row(label: str, ours: float | None, engine: float | None, digits: int = 0) -> None:
        share = ratio(ours, engine) if ours is not None and engine else None
        rows.append(f"| {label} | {fmt(ours, digits)} | {fmt(engine, digits)} | {fmt(share, 3)} |")

    for kind, label in (("enqueue", "enqueue/s"), ("bulk", "bulk enqueue/s")):
        per_side = {s: [r[s] for r in res[kind]] for s in ("ours", "engine")}
        row(label, median_of(per_side["ours"], "jobs_per_s"),
            median_of(per_side["engine"], "jobs_per_s"))  # fmt: skip
        row(f"{label}: Redis commands / 1,000 jobs", median_of(per_side["ours"], "redis_commands"),
            median_of(per_side["engine"], "redis_commands"))  # fmt: skip
    drains = res["drain"]
    for n in (1, 2):
        for engine_side in ("raw", "engine"):
            tag = f"engine {'ours' if engine_side == 'raw' else 'defaults'}"
            for key, label, digits in (
                ("jobs_per_s", "drain jobs/s", 0),
                ("worker_cpu_us_per_job", "worker CPU µs/job", 1),
                ("redis_commands", "Redis commands / 1,000 jobs", 0),
                ("redis_cpu_ms", "Redis CPU ms / 1,000 jobs", 1),
            ):
                row(f"{label}, {n} process(es), vs {tag}", median_of(drains[f"ours-{n}"], key),
                    median_of(drains[f"{engine_side}-{n}"], key), digits)  # fmt: skip
    for n in (1, 2):
        cpu = median_of(drains[f"ours-{n}"], "redis_cpu_ms")
        per_core = 1e6 / cpu if cpu else None
        rows.append(f"| jobs/s per Redis core, ILS, {n} process(es) | {fmt(per_core)} | | |")
    start = res["start"]
    row("worker start (s)", start["ours"]["ready_s"], start["engine"]["ready_s"], 3)
    row("worker peak RSS (MiB)", start["ours"]["peak_rss_mib"], start["engine"]["peak_rss_mib"], 1)
    return rows


def command_table(res: dict[str, Any], processes: int = 1) -> list[str]:
    """Per job, by command: the engine's (BullMQ with our options) and what ILS adds to it."""
    ours = res["drain"][f"ours-{processes}"][0]["by_command"]
    raw = res["drain"][f"raw-{processes}"][0]["by_command"]
    rows = ["| command | engine per job | ILS per job | ILS's own per 1,000 jobs |",
            "|---|---:|---:|---:|"]  # fmt: skip
    for name in sorted(set(ours) | set(raw), key=lambda n: -max(ours.get(n, 0), raw.get(n, 0))):
        o, r = ours.get(name, 0.0), raw.get(name, 0.0)
        rows.append(f"| {name} | {r / 1000:.3f} | {o / 1000:.3f} | {o - r:+.1f} |")
    return rows


def commit() -> str:
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True, cwd=Path(__file__).parent).stdout.strip()  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    started = datetime.now(UTC)
    load_before = load_average()
    with own_server() as url:
        results = asyncio.run(run_all(url, args))
    head = (f"commit {commit()}, {started:%Y-%m-%d %H:%M} UTC, load average {load_before} -> "
            f"{load_average()}, {args.jobs} jobs per drain, {args.enqueues} enqueues, "
            f"concurrency {args.concurrency}, {args.repeats} repeat(s) (medians)")  # fmt: skip
    print(head, "", *main_table(results), "", "Redis commands of a 1-process drain:", "",
          *command_table(results), sep="\n")  # fmt: skip
    write_json({"head": head, "date": started.isoformat(timespec="seconds"), **results},
               RESULTS_FILE)  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
