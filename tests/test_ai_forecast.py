"""The demand-forecast job: a forecast per product with its pattern, chosen model, holdout scores,
bands and a reorder suggestion that counts stock and open purchase orders, only for the company's
own products; and a 200-product forecast leaves the other queues of the same worker process
running. (The forecasting itself: tests/test_ai_forecasting.py.)"""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import AiResult, AiResultKind
from ils.jobs import helpers
from ils.jobs.ai.forecast import HOLT_WINTERS
from ils.jobs.ai.forecast import forecast_series as holt_winters
from ils.jobs.ai.pool import ModelPool
from tests.conftest import make_settings, probe_registry
from tests.support.ai_world import WEEKDAY, make_shop
from tests.support.databases import open_database
from tests.support.running import running


def seasonal_series(seed: int, level: float, days: int = 240) -> list[float]:
    """Poisson demand: ``level`` times the weekday factor, growing 40 % over the span."""
    rng = np.random.default_rng(seed)
    t = np.arange(days)
    return [float(v) for v in rng.poisson(level * (1 + 0.4 * t / days) * WEEKDAY[t % 7])]


def test_holt_winters_the_method_measured_before_still_beats_seasonal_naive():
    # Kept beside statsforecast for the benchmark's side-by-side run (bench/ai_forecast.py).
    results = [holt_winters(seasonal_series(seed, 5 + seed), 14) for seed in range(6)]
    assert {r["model"] for r in results} == {HOLT_WINTERS}
    wape_hw = np.mean([r["holdout"]["wape"] for r in results])
    assert wape_hw < np.mean([r["holdout"]["wape_naive"] for r in results])
    assert holt_winters([0.0] * 200, 7)["fallback_reason"] == "no demand in the history"


async def wait_done(system: JobSystem, queue: str, job_id: str, timeout_s: float = 90):
    return await system.admin.wait_for_job(queue, job_id, timeout_s=timeout_s)


async def test_the_job_stores_a_forecast_per_product_with_reorders(
    db: Database, redis_url: str, prefix: str, tmp_path: Path, model_pool: ModelPool
):
    shop = await make_shop(db, "alpha", products=3, days=120, rates=[2, 6, 12],
                           stocks=[500, 500, 3])  # fmt: skip
    other = await make_shop(db, "bravo", products=1, days=30, seed=2)
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    system.resources.give("ai_models", model_pool)
    try:
        async with running(system, "ai"):
            forecast = helpers.queue_demand_forecast.using(producer=system.producer)
            ok = await forecast(company_id=shop.company_id, horizon_days=14)
            foreign = await forecast(
                company_id=shop.company_id, horizon_days=7,
                product_ids=[shop.product_ids[0], other.product_ids[0]],
            )  # fmt: skip
            view = await wait_done(system, "ai", ok.job_id)
            refused = await wait_done(system, "ai", foreign.job_id)
    finally:
        await system.close()
    assert view.state == "completed", view.failed_reason
    assert view.return_value["products"] == 3
    assert sum(view.return_value["models"].values()) == 3
    assert view.return_value["service_level"] == 0.95
    assert view.return_value["holdout"]["all"]["products"] == 3
    assert refused.state == "failed"
    assert f"products [{other.product_ids[0]}] are not products of company" in (
        refused.failed_reason or ""
    )
    async with db.session() as s:
        row = await s.scalar(select(AiResult).where(AiResult.job_id == ok.job_id))
    assert row is not None and row.kind is AiResultKind.demand_forecast
    assert row.company_id == shop.company_id
    assert row.for_date == dt.datetime.now(dt.UTC).date()
    by_sku = {f["sku"]: f for f in row.data["forecasts"]}
    assert set(by_sku) == set(shop.skus)
    low, high = by_sku[shop.skus[0]], by_sku[shop.skus[2]]
    assert len(high["mean"]) == 14 and high["pattern"]["label"] == "smooth"
    assert high["model"] not in ("zero", None) and high["fallback_reason"] is None
    assert high["holdout"]["chosen"]["mase"] is not None
    # About 12 a day on weekdays: lead time 5 + review 7 days need far more than the 3 in stock.
    r = high["reorder"]
    assert r["stock"] == 3 and r["lead_time_days"] == 5 and r["cover_days"] == 12
    assert r["expected_demand"] > 60 and r["demand_at_service_level"] > r["expected_demand"]
    assert r["quantity"] == math.ceil(r["demand_at_service_level"] - 3 - r["on_order"])
    assert r["stockout_risk_without_order"] > 0.9 and r["stockout_risk_with_order"] <= 0.05
    assert low["reorder"] is None
    assert sum(high["mean"][:7]) > 3 * sum(low["mean"][:7])


@pytest.mark.slow
async def test_a_200_product_forecast_does_not_stall_the_other_queues(
    redis_url: str, prefix: str, tmp_path: Path, model_pool: ModelPool
):
    async for db in open_database("sqlite", tmp_path):
        shop = await make_shop(db, "large", products=200, days=150,
                               rates=[1.0 + (i % 20) for i in range(200)])  # fmt: skip
        settings = make_settings(redis_url, prefix, tmp_path)
        system = JobSystem(settings, registry=probe_registry(), database=db)
        system.resources.give("ai_models", model_pool)
        try:
            async with running(system, "ai", "oma"):
                big = await helpers.queue_demand_forecast.using(producer=system.producer)(
                    company_id=shop.company_id, horizon_days=14
                )
                await system.admin.wait_for_job("ai", big.job_id, 60, frozenset({"active"}))
                probe = await system.producer.enqueue("oma", "test-probe", {"tag": "meanwhile"})
                quick = await system.admin.wait_for_job("oma", probe.job_id, timeout_s=60)
                during = await system.admin.get_job("ai", big.job_id)
                done = await wait_done(system, "ai", big.job_id, timeout_s=300)
        finally:
            await system.close()
        assert quick.state == "completed"
        # The probe on the other queue finished while the forecast was still being fitted.
        assert during.state == "active"
        assert done.state == "completed", done.failed_reason
        assert done.return_value["products"] == 200
        assert done.finished_on is not None and quick.finished_on is not None
        assert quick.finished_on < done.finished_on
