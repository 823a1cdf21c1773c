"""Demand forecasts per second and their holdout accuracy on the demo data: the demo practice's
year of orders (seeded, deterministic), every active product forecast 14 days ahead through the
model pool (as the demand-forecast job does), Holt-Winters against the seasonal-naive baseline
on the last 30 days held out.

Run: ``.venv/bin/python bench/ai_forecast.py [--workers N] [--seed S]`` (or ``make bench-ai``).
SQLite in a temporary directory; no Redis needed. Numbers are printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.support

from sqlalchemy import select
from tests.support.databases import create_schema

from ils.domain.db import Database
from ils.domain.demo import seed_demo
from ils.domain.models import Company, CompanyKind
from ils.jobs.ai import ModelPool, data
from ils.jobs.ai.demand import BATCH, summarise_holdout

TODAY = dt.date(2026, 3, 1)  # fixed, so every run forecasts the same history


async def demo_demand(db: Database, seed: int) -> dict[int, list[float]]:
    await create_schema(db)
    await seed_demo(db, seed=seed, progress=False, today=TODAY)
    async with db.session() as s:
        company = await s.scalar(select(Company).where(Company.kind == CompanyKind.practice))
        assert company is not None
        products = await data.products(s, company.id)
        days = data.day_range(TODAY - dt.timedelta(days=1), 365)
        return await data.daily_demand(s, company, days, [p.id for p in products])


async def run(workers: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            demand = await demo_demand(db, seed)
        finally:
            await db.dispose()
    pool = ModelPool(workers)
    try:
        await pool.run("forecast_series", [1.0] * 100, 7)  # start and warm the processes
        items = list(demand.items())
        started = time.perf_counter()
        batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
        done = await asyncio.gather(*(pool.run("forecast_batch", b, 14) for b in batches))
        elapsed = time.perf_counter() - started
    finally:
        await pool.close()
    results = dict(pair for batch in done for pair in batch)
    totals = {pid: sum(v) for pid, v in demand.items()}
    tiers = {}
    for name, low, high in (("under 0.25 a day", 0, 91), ("0.25-1 a day", 91, 365),
                            ("1 a day or more", 365, 10**9)):  # fmt: skip
        chosen = [r for pid, r in results.items() if low <= totals[pid] < high]
        tiers[name] = {"products": len(chosen), **summarise_holdout(chosen)}
    models: dict[str, int] = {}
    for r in results.values():
        models[r["model"]] = models.get(r["model"], 0) + 1
    return {
        "products": len(results), "workers": workers, "seconds": round(elapsed, 2),
        "products_per_s": round(len(results) / elapsed, 1), "models": models,
        "holdout_all": summarise_holdout(list(results.values())), "holdout_by_volume": tiers,
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="pool processes (ai concurrency)")
    parser.add_argument("--seed", type=int, default=42, help="demo data seed")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.workers, args.seed)), indent=2))


if __name__ == "__main__":
    main()
