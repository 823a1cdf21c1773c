"""Insights and the daily briefing: facts ranked with their numbers; the briefing compares
yesterday with the usual weekday, is stored for the email, sent as one email and one ai-insight
notification per recipient (once, even when run again). Its 08:00 schedule per company time zone
is tested with the other schedules (tests/test_schedules.py)."""

from __future__ import annotations

import datetime as dt
import logging
import re
from pathlib import Path

from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import AiResult, AiResultKind, Examination, Notification, Patient
from ils.jobs import helpers
from ils.jobs.ai.briefing import DailyBriefingTask, daily_briefing
from ils.jobs.ai.pool import ModelPool
from ils.jobs.ai.results import follow_up
from ils.queue.context import JobContext
from tests.conftest import make_settings
from tests.support.ai_world import make_shop
from tests.support.running import running


async def test_insights_are_ranked_facts_each_with_its_numbers(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    shop = await make_shop(db, "echo", products=3, days=120, rates=[0.0, 4, 10], stocks=[40, 50, 6])
    async with db.session() as s:
        patient = Patient(company_id=shop.company_id, first_name="Ann", last_name="Lee")
        s.add(patient)
        await s.flush()
        s.add(Examination(company_id=shop.company_id, patient_id=patient.id,
                          recall_due=dt.date.today() + dt.timedelta(days=10)))  # fmt: skip
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    try:
        async with running(system, "ai"):
            job = await helpers.queue_insight_generation.using(producer=system.producer)(
                company_id=shop.company_id, type="all", period="month"
            )
            view = await system.admin.wait_for_job("ai", job.job_id, timeout_s=60)
    finally:
        await system.close()
    assert view.state == "completed", view.failed_reason
    async with db.session() as s:
        row = await s.scalar(select(AiResult).where(AiResult.job_id == job.job_id))
    assert row is not None and row.kind is AiResultKind.insight
    facts = row.data["insights"]
    kinds = {f["kind"] for f in facts}
    assert {"growth", "slow-movers", "stock-at-risk", "recalls"} <= kinds
    assert [f["score"] for f in facts] == sorted((f["score"] for f in facts), reverse=True)
    for f in facts:  # no sentence without a number from the data behind it
        assert f["numbers"] and re.search(r"\d", f["text"]), f
    risk = next(f for f in facts if f["kind"] == "stock-at-risk")
    assert risk["numbers"]["sku"] == shop.skus[2] and risk["numbers"]["stock"] == 6
    slow = next(f for f in facts if f["kind"] == "slow-movers")
    assert slow["numbers"]["units"] == 40 and shop.skus[0] in slow["text"]


async def test_the_briefing_is_stored_emailed_and_notified_once(
    db: Database, redis_url: str, prefix: str, tmp_path: Path, model_pool: ModelPool
):
    shop = await make_shop(db, "foxtrot", products=2, days=70, rates=[3, 5], stocks=[1, 500])
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    system.resources.give("ai_models", model_pool)
    today = dt.datetime.now(dt.UTC).date()
    try:
        async with running(system, "ai", "email", "notification"):
            # A demand forecast first: the briefing names what to reorder from it.
            fc = await helpers.queue_demand_forecast.using(producer=system.producer)(
                company_id=shop.company_id, horizon_days=7
            )
            forecast = await system.admin.wait_for_job("ai", fc.job_id, timeout_s=120)
            assert forecast.state == "completed", forecast.failed_reason
            first = await helpers.queue_daily_briefing.using(producer=system.producer)(
                company_id=shop.company_id
            )
            view = await system.admin.wait_for_job("ai", first.job_id, timeout_s=60)
            # The same job run again, as a retry would: its follow-ups get the same ids.
            ctx = JobContext(first.job_id, "ai", "daily-briefing", 2, 2,
                             logging.LoggerAdapter(logging.getLogger("test")),
                             resources=system.resources)  # fmt: skip
            await daily_briefing(DailyBriefingTask(company_id=shop.company_id), ctx)
            email_id = follow_up(ctx, "email").job_id
            note_id = follow_up(ctx, f"notify:{shop.admin_id}").job_id
            assert email_id and note_id
            email = await system.admin.wait_for_job("email", email_id, timeout_s=30)
            await system.admin.wait_for_job("notification", note_id, timeout_s=30)
            counts = await system.admin.stats(["email", "notification"])
    finally:
        await system.close()
    assert email.state == "completed", email.failed_reason
    assert counts["email"]["completed"] == 1 and counts["notification"]["completed"] == 1
    assert view.state == "completed", view.failed_reason
    day = today - dt.timedelta(days=1)
    assert view.return_value["day"] == day.isoformat()
    assert view.return_value["recipients"] == [shop.admin_id]
    async with db.session() as s:
        row = await s.scalar(select(AiResult).where(AiResult.job_id == first.job_id))
        notes = list(await s.scalars(select(Notification)))
    assert row is not None and row.for_date == day
    data = row.data
    assert data["weekday"] == f"{day:%A}" and isinstance(data["usual_orders"], (int, float))
    assert [p["sku"] for p in data["low_stock"]] == [shop.skus[0]]
    assert str(data["orders"]) in data["summary"] and "1 products" in data["summary"]
    # 3 a day against 1 in stock: the forecast says how many to order, the briefing repeats it.
    assert [r["sku"] for r in data["reorders"]] == [shop.skus[0]]
    wanted = data["reorders"][0]["quantity"]
    assert f"most urgent: {shop.skus[0]}: order {wanted} now (1 in stock" in data["summary"]
    assert [(n.user_id, n.title) for n in notes] == [
        (shop.admin_id, f"Your briefing for {day:%d %b %Y}")]  # fmt: skip
    assert notes[0].message == data["summary"]
