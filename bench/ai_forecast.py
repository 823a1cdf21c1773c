"""Demand forecasts per second and their holdout accuracy, on the demo practice's year of orders
(seeded, deterministic) and on a simulated catalogue of known processes: every product forecast
14 days ahead through the model pool, in batches as the demand-forecast job does, with the
Holt-Winters method measured before (statsmodels) timed side by side in the same run.

Scores per demand pattern: MASE, RMSSE, WAPE and bias of the chosen models against seasonal naive
and zero on the last 28 days held out, and the coverage of the 80 % and 95 % bands: the plain share
of those days inside them, and the calibrated share for count data (randomized PIT).

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
from tests.support.demand_processes import catalogue

from ils.domain.db import Database
from ils.domain.demo import seed_demo
from ils.domain.models import Company, CompanyKind
from ils.jobs.ai import data
from ils.jobs.ai.demand import BATCH
from ils.jobs.ai.forecasting.summary import summarise
from ils.jobs.ai.pool import ModelPool

TODAY = dt.date(2026, 3, 1)  # fixed, so every run forecasts the same history
HORIZON = 14
COVER = 14  # lead time 7 + review 7


async def demo_demand(db: Database, seed: int) -> dict[int, list[float]]:
    await create_schema(db)
    await seed_demo(db, seed=seed, progress=False, today=TODAY)
    async with db.session() as s:
        company = await s.scalar(select(Company).where(Company.kind == CompanyKind.practice))
        assert company is not None
        products = await data.products(s, company.id)
        days = data.day_range(TODAY - dt.timedelta(days=1), 365)
        return await data.daily_demand(s, company, days, [p.id for p in products])


async def timed(pool: ModelPool, name: str, items: list[Any]) -> tuple[float, dict[int, Any]]:
    started = time.perf_counter()
    batches = [items[i : i + BATCH] for i in range(0, len(items), BATCH)]
    if name == "holt_winters_batch":
        runs = [pool.run(name, [(k, h) for k, h, _ in b], HORIZON) for b in batches]
    else:
        runs = [pool.run(name, b, HORIZON) for b in batches]
    done = await asyncio.gather(*runs)
    return time.perf_counter() - started, dict(pair for batch in done for pair in batch)


async def measure(pool: ModelPool, demand: dict[int, list[float]]) -> dict[str, Any]:
    items = [(pid, series, COVER) for pid, series in demand.items()]
    old_s, _ = await timed(pool, "holt_winters_batch", items)
    new_s, results = await timed(pool, "forecast_batch", items)
    patterns: dict[str, int] = {}
    models: dict[str, int] = {}
    for r in results.values():
        patterns[r["pattern"]["label"]] = patterns.get(r["pattern"]["label"], 0) + 1
        models[r["model"]] = models.get(r["model"], 0) + 1

    def speed(seconds: float) -> dict[str, float]:
        return {"seconds": round(seconds, 2), "products_per_s": round(len(items) / seconds, 1)}

    return {
        "products": len(results), "holt_winters": speed(old_s), "statsforecast": speed(new_s),
        "speed_up": round(old_s / new_s, 1), "patterns": patterns, "models": models,
        "holdout": summarise(list(results.values())),
    }  # fmt: skip


async def run(workers: int, seed: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
        try:
            demand = await demo_demand(db, seed)
        finally:
            await db.dispose()
    simulated = {i: [float(v) for v in p.sample] for i, p in enumerate(catalogue(25, seed=seed))}
    pool = ModelPool(workers)
    try:
        warm = [(0, [1.0, 0.0, 2.0, 0.0] * 30, COVER)] * workers  # start every process, compile
        await asyncio.gather(*(pool.run("forecast_batch", warm, 7) for _ in range(workers)))
        await pool.run("holt_winters_batch", [(0, [1.0] * 100)], 7)
        return {"workers": workers, "demo": await measure(pool, demand),
                "simulated": await measure(pool, simulated)}  # fmt: skip
    finally:
        await pool.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="pool processes (ai concurrency)")
    parser.add_argument("--seed", type=int, default=42, help="demo data seed")
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args.workers, args.seed)), indent=2))


if __name__ == "__main__":
    main()
