"""Anomaly detection: anomalies injected into generated seasonal series are found with few false
alarms; the job stores the anomalies of its window and raises the high and critical ones to the
company's admins as one ai-insight notification."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import numpy as np
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import AiResult, Notification, NotificationType
from ils.jobs import helpers
from ils.jobs.ai.anomaly import detect, severity
from ils.jobs.ai.pool import ModelPool
from ils.jobs.ai.results import follow_up
from ils.queue.context import JobContext
from tests.conftest import make_settings
from tests.support.ai_world import WEEKDAY, add_orders, make_shop, yesterday
from tests.support.running import running

INJECTED = {30: 2.5, 75: 0.2, 120: 3.0, 150: 0.1, 170: 2.2}


def test_injected_anomalies_are_found_with_few_false_alarms():
    false_alarms, alerting = [], []
    for seed in range(1, 21):
        rng = np.random.default_rng(seed)
        t = np.arange(180)
        series = rng.poisson(50 * WEEKDAY[t % 7] + 5).astype(float)
        for i, factor in INJECTED.items():
            series[i] = round(series[i] * factor)
        found = {a["index"]: a for a in detect(list(series), 7)}
        assert set(INJECTED) <= set(found), seed
        assert found[120]["direction"] == "above" and found[150]["direction"] == "below"
        assert found[120]["severity"] in ("high", "critical")
        wrong = [a for i, a in found.items() if i not in INJECTED]
        false_alarms.append(len(wrong))
        alerting += [a for a in wrong if a["severity"] in ("high", "critical")]
    # About one false alarm in 180 days, and hardly ever one that would notify the admins.
    assert sum(false_alarms) / len(false_alarms) <= 2.5, false_alarms
    assert len(alerting) <= 1, alerting


def test_severity_levels():
    assert [severity(s) for s in (1, 3.5, -5.2, 7.5, 12)] == [
        None, "low", "medium", "high", "critical"]  # fmt: skip


async def test_the_job_stores_anomalies_and_alerts_the_admins(
    db: Database, redis_url: str, prefix: str, tmp_path: Path, model_pool: ModelPool
):
    shop = await make_shop(db, "delta", products=2, days=150, rates=[8, 12])
    async with db.session() as s:  # yesterday, a burst of 60 extra orders
        await add_orders(s, shop, {yesterday(): [(shop.product_ids[0], 1)] * 60},
                         Decimal("20.00"), first_number=100_000)  # fmt: skip
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    system.resources.give("ai_models", model_pool)
    try:
        async with running(system, "ai", "notification"):
            job = await helpers.queue_anomaly_detection.using(producer=system.producer)(
                company_id=shop.company_id, metric="orders", range="daily", lookback_days=7
            )
            view = await system.admin.wait_for_job("ai", job.job_id, timeout_s=90)
            ctx = JobContext(job.job_id, "ai", "anomaly-detection", 1, 2, None)  # type: ignore[arg-type]
            alert_id = follow_up(ctx, "anomaly-alert").job_id
            assert alert_id is not None
            alert = await system.admin.wait_for_job("notification", alert_id, timeout_s=30)
    finally:
        await system.close()
    assert view.state == "completed", view.failed_reason
    assert alert.state == "completed", alert.failed_reason
    async with db.session() as s:
        row = await s.scalar(select(AiResult).where(AiResult.job_id == job.job_id))
        notes = list(await s.scalars(select(Notification)))
    assert row is not None and row.data["metrics"] == ["orders"]
    top = row.data["anomalies"][0]
    assert top["bucket"] == yesterday().isoformat() and top["direction"] == "above"
    assert top["severity"] in ("high", "critical") and top["value"] >= 60
    assert all(dt.date.fromisoformat(a["bucket"]) >= yesterday() - dt.timedelta(days=6)
               for a in row.data["anomalies"])  # fmt: skip
    assert [(n.user_id, n.type) for n in notes] == [(shop.admin_id, NotificationType.ai_insight)]
    assert "against" in notes[0].message and str(int(top["value"])) in notes[0].message
