"""Schedules at scale: the Redis memory of N job schedulers and the time of each reconcile or
tick, at 1,000, 5,000 and 10,000 scheduled entries (``make bench-schedules``).

For each size, on a fresh key prefix and a fresh migrated SQLite database: N platform schedules
(``retention``, hourly patterns at spread minutes, in four zones) are written as rows, then

- *reconcile, all new*: ``ils.jobs.scheduled.reconcile.sync`` makes Redis equal to the rows
  (N upserts);
- *memory*: the sum of ``MEMORY USAGE`` over every key under the prefix (the schedulers' hashes,
  the ``repeat`` sorted set, each scheduler's pending run and the queue's lists), per entry;
- *tick, nothing changed*: the same full reconcile again (it reads every scheduler and changes
  none): what a periodic reconcile, or the start of a scheduled worker, costs;
- *start*: ``reconcile.start`` (missed-run check over every row, then that full reconcile);
- *one change*: the sync of one schedule (what the ``sync-schedules`` job does after an edit);
- *a run's next iteration*: what a worker does when it takes a run, BullMQ's upsert of the
  scheduler's next run (``override=False``), timed over 500 schedulers.

Each size runs ``--repeats`` times (3), each on its own prefix and database; the first table
shows the best of the runs (the machine's other load only ever adds time), the second the median.
Reported per entry and as the ratio of each per-entry figure to the 1,000-entry one: a ratio near
1 is linear growth, below 1 is better than linear. Only Redis on 127.0.0.1/localhost; keys
deleted at the end; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from sqlalchemy import insert

from ils.bootstrap import JobSystem
from ils.domain.migrate import upgrade_database
from ils.domain.models import Schedule
from ils.domain.models.types import utcnow
from ils.jobs.scheduled import reconcile
from ils.queue import schedulers
from ils.settings import load_settings
from redis_scope import DEFAULT_URL, checked_url, delete_prefix, new_prefix, redacted

SIZES = (1_000, 5_000, 10_000)
ZONES = ("UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo")
NEXT_ITERATIONS = 500


async def memory(url: str, prefix: str) -> int:
    client = aredis.from_url(url)
    total = 0
    try:
        async for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            total += int(await client.memory_usage(key) or 0)
    finally:
        await client.aclose()
    return total


async def timed(step: Any) -> float:
    started = time.perf_counter()
    await step
    return time.perf_counter() - started


async def one_size(url: str, n: int, work: Path, run: int = 0) -> dict[str, Any]:
    prefix = new_prefix()
    db_url = f"sqlite+aiosqlite:///{work / f'bench-{n}-{run}.db'}"
    env = {"REDIS_URL": url, "ILS_REDIS_PREFIX": prefix, "DATABASE_URL": db_url,
           "ILS_VAR_DIR": str(work / "var")}  # fmt: skip
    system = JobSystem(load_settings(env, config_file=None))
    await upgrade_database(system.database)
    rng = random.Random(n)
    now = utcnow()
    rows = [
        {"company_id": None, "name": f"bench {i}", "job_type": "retention", "payload": {},
         "cron": f"{rng.randrange(60)} * * * *", "timezone": ZONES[i % len(ZONES)],
         "enabled": True, "missed_run": "run_once", "created_at": now, "updated_at": now}
        for i in range(n)
    ]  # fmt: skip
    try:
        async with system.database.session() as s:
            await s.execute(insert(Schedule), rows)
        producer = system.producer
        added = await timed(reconcile.sync(system.database, producer))
        used = await memory(url, prefix)
        tick = await timed(reconcile.sync(system.database, producer))
        start = await timed(reconcile.start(system.database, producer))
        one = [await timed(reconcile.sync(system.database, producer, [i])) for i in (1, n // 2, n)]
        queue = producer.queue("scheduled")
        found = list((await schedulers.read(queue, 0, NEXT_ITERATIONS - 1)).values())
        started = time.perf_counter()
        for record in found:
            # As a worker taking the pending run: the scheduler's following run is added.
            template = record.get("template") or {}
            repeat = {"pattern": record["pattern"], "tz": record.get("tz")}
            run_id = f"repeat:{record['key']}:{record['next']}"
            opts = {**(template.get("opts") or {}), "prevMillis": record["next"]}
            await queue.upsertJobScheduler(record["key"], repeat, record["name"],
                                           template.get("data"), opts, override=False,
                                           producer_id=run_id)  # fmt: skip
        next_iteration = (time.perf_counter() - started) / len(found)
        return {
            "entries": n,
            "reconcile_all_new_s": round(added, 3),
            "memory_bytes": used,
            "tick_unchanged_s": round(tick, 3),
            "start_s": round(start, 3),
            "one_change_ms": round(statistics.median(one) * 1000, 2),
            "next_iteration_ms": round(next_iteration * 1000, 3),
        }
    finally:
        await system.close()
        delete_prefix(url, prefix)


PER_ENTRY = {
    "reconcile_all_new_s": ("reconcile, all new", 1e6, "µs"),
    "memory_bytes": ("Redis memory", 1, "bytes"),
    "tick_unchanged_s": ("tick, nothing changed", 1e6, "µs"),
    "start_s": ("start (missed-run check + tick)", 1e6, "µs"),
}
CONSTANT = {
    "one_change_ms": ("one schedule changed", "ms"),
    "next_iteration_ms": ("a run's next iteration", "ms"),
}


def table(results: list[dict[str, Any]]) -> str:
    base = results[0]
    head = "| measure | " + " | ".join(f"{r['entries']:,}" for r in results) + " |"
    lines = [head, "|---|" + "---:|" * len(results)]
    for key, (label, scale, unit) in PER_ENTRY.items():
        cells = []
        for r in results:
            per = r[key] / r["entries"] * scale
            growth = (r[key] / r["entries"]) / (base[key] / base["entries"])
            cells.append(f"{per:,.1f} {unit}/entry (x{growth:.2f})")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    for key, (label, unit) in CONSTANT.items():
        cells = [f"{r[key]:g} {unit} (x{r[key] / base[key]:.2f})" for r in results]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    parser.add_argument("--repeats", type=int, default=3, help="median of this many runs")
    parser.add_argument("--out", type=Path, default=Path("bench/results/schedules.json"))
    args = parser.parse_args()
    url = checked_url(args.redis_url)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"Redis {redacted(url)}; sizes {sizes}", file=sys.stderr)
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            runs = []
            for r in range(args.repeats):
                runs.append(await one_size(url, n, Path(tmp), r))
                print(json.dumps(runs[-1]), file=sys.stderr)
            results.append({k: min(run[k] for run in runs) for k in runs[0]}
                           | {"median": {k: statistics.median(run[k] for run in runs)
                                         for k in runs[0]}, "runs": runs})  # fmt: skip
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2))
    print(f"best of {args.repeats} runs:")
    print(table(results))
    print(f"median of {args.repeats} runs:")
    print(table([r["median"] for r in results]))
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
