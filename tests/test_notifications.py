"""The notification worker on both databases: each type stored once with its fields, the job
priority taken from the notification's, a retried job storing nothing twice, the company fan-out
resolved when it runs, and the live event (the notification's id and user) on the channel."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from bullmq import Job
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Notification, Role, User
from ils.errors import InvalidJobPayload
from ils.jobs import helpers
from ils.jobs.notification import LiveEvent, NotificationPublisher, channel
from ils.queue.producer import EnqueueOptions
from tests.conftest import make_settings
from tests.support.email_world import World, make_world
from tests.support.running import running


class FailingOnce(NotificationPublisher):
    """The real publisher, except that its first announcement fails as if Redis dropped."""

    failures = 0

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        if self.failures == 0:
            self.failures += 1
            raise RedisConnectionError("connection dropped (injected)")
        await super().publish(events)


@contextlib.asynccontextmanager
async def notification_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    """A job system on ``db`` whose notification retries come 1 s apart."""
    settings = make_settings(redis_url, prefix, tmp_path,
                             env={"ILS_QUEUE_NOTIFICATION_BACKOFF_DELAY_MS": "1000"})  # fmt: skip
    system = JobSystem(settings, database=db)
    try:
        yield system
    finally:
        await system.close()


@contextlib.asynccontextmanager
async def listening(redis_url: str, prefix: str) -> AsyncIterator[aredis.client.PubSub]:
    """A subscription to the test's live channel, confirmed before the block starts."""
    client = aredis.from_url(redis_url, decode_responses=True)
    pubsub = client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel(prefix))
    try:
        yield pubsub
    finally:
        await pubsub.aclose()
        await client.aclose()


async def next_event(pubsub: aredis.client.PubSub, timeout_s: float = 15) -> dict[str, Any]:
    async with asyncio.timeout(timeout_s):
        while True:  # None: a subscription confirmation, skipped
            message = await pubsub.get_message(timeout=timeout_s)
            if message is not None:
                return dict(json.loads(message["data"]))


async def stored(db: Database) -> list[Notification]:
    async with db.session() as s:
        return list(await s.scalars(select(Notification).order_by(Notification.id)))


async def add_user(
    db: Database, company_id: int, email: str, role: Role, active: bool = True
) -> int:
    async with db.session() as s:
        user = User(company_id=company_id, email=email, name=email.split("@")[0],
                    password_hash="x", role=role, is_active=active)  # fmt: skip
        s.add(user)
        await s.flush()
        return user.id


async def run_all(system: JobSystem, job_ids: list[str]) -> list[Any]:
    async with running(system, "notification"):
        return [
            await system.admin.wait_for_job("notification", job_id, timeout_s=30)
            for job_id in job_ids
        ]


async def test_each_type_is_stored_with_its_fields_and_announced(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    async with (
        notification_system(redis_url, prefix, tmp_path, db) as system,
        listening(redis_url, prefix) as pubsub,
    ):
        prod = system.producer
        jobs = [
            await helpers.queue_system_notification.using(producer=prod)(
                user_id=w.user.id,
                title="Maintenance",
                message="Down at 22:00.",
                priority="urgent",
                action_url="/status",
            ),
            await helpers.queue_order_notification.using(producer=prod)(
                user_id=w.user.id, order_id=w.order.id, status="in_production"
            ),
            await helpers.queue_ai_insight_notification.using(producer=prod)(
                user_id=w.user.id,
                title="Stock",
                message="Reorder SV167.",
                priority="low",
                insight_id=7,
            ),
            await helpers.queue_marketplace_notification.using(producer=prod)(
                user_id=w.user.id, connection_id=w.connection.id, event="accepted"
            ),
        ]
        views = await run_all(system, [j.job_id for j in jobs])
        events = [await next_event(pubsub) for _ in jobs]
    assert [v.state for v in views] == ["completed"] * 4, [v.failed_reason for v in views]
    by_job = {r.job_id: r for r in await stored(db)}
    rows = [by_job[j.job_id] for j in jobs]  # worked in priority order, not enqueue order
    assert [(r.type.value, r.title, r.priority.value, r.action_url) for r in rows] == [
        ("system", "Maintenance", "urgent", "/status"),
        ("order", "Order ORD-000042: in production", "high", f"/orders/{w.order.id}"),
        ("ai-insight", "Stock", "low", "/ai/insights/7"),
        ("marketplace", "Connection accepted", "medium",
         f"/marketplace/connections/{w.connection.id}"),
    ]  # fmt: skip
    assert rows[1].message == "Order ORD-000042 is now in production."
    assert rows[3].message == "Bright Eyes accepted the connection request of Clearview Lab."
    assert {(r.user_id, r.company_id, r.read_at) for r in rows} == {(w.user.id, w.lab.id, None)}
    assert len(by_job) == 4
    # Each event names the notification and its user, and nothing else: no text travels on the
    # channel (the web process reads it from the database as that user's).
    assert sorted(e["id"] for e in events) == sorted(r.id for r in rows)
    assert all(e == {"event": "notification", "user_id": w.user.id, "id": e["id"]} for e in events)


async def test_the_job_priority_follows_the_notification_priority(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    async with notification_system(redis_url, prefix, tmp_path, db) as system:
        prod = system.producer
        queue = system.admin.queue("notification")
        expected = {"urgent": 1, "high": 2, "medium": 3, "low": 4}
        for name, queue_priority in expected.items():
            sys_job = await helpers.queue_system_notification.using(producer=prod)(
                user_id=1, title="t", message="m", priority=name
            )  # type: ignore[arg-type]
            ai_job = await helpers.queue_ai_insight_notification.using(producer=prod)(
                user_id=1, title="t", message="m", priority=name
            )  # type: ignore[arg-type]
            fan_job = await helpers.notify_company_admins.using(producer=prod)(
                company_id=1, title="t", message="m", priority=name
            )  # type: ignore[arg-type]
            for enqueued in (sys_job, ai_job, fan_job):
                job = await Job.fromId(queue, enqueued.job_id)
                assert job.opts["priority"] == queue_priority, (name, enqueued.name)
        # A caller's own priority wins.
        mine = await helpers.queue_system_notification.using(
            options=EnqueueOptions(priority=1), producer=prod
        )(user_id=1, title="t", message="m", priority="low")
        assert (await Job.fromId(queue, mine.job_id)).opts["priority"] == 1
        with pytest.raises(InvalidJobPayload) as bad:
            await helpers.queue_system_notification.using(producer=prod)(
                user_id=1, title="t", message="m", priority="extreme"
            )  # type: ignore[arg-type]
        assert bad.value.fields == ["priority"]
        with pytest.raises(InvalidJobPayload) as no_role:
            await prod.enqueue("notification", "fan-out", {
                "companyId": 1, "audience": "role", "title": "t", "message": "m"})  # fmt: skip
        assert no_role.value.fields == ["role"]


async def test_a_retried_job_stores_its_notification_once(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    async with (
        notification_system(redis_url, prefix, tmp_path, db) as system,
        listening(redis_url, prefix) as pubsub,
    ):
        # Built in place of the publisher, when the worker starts (closed with the system).
        system.resources.provide({"notifier": lambda: FailingOnce(system.broker)})
        job = await helpers.queue_system_notification.using(producer=system.producer)(
            user_id=w.user.id, title="Once", message="Only once."
        )
        (view,) = await run_all(system, [job.job_id])
        assert isinstance(system.resources.notifier, FailingOnce)
        event = await next_event(pubsub)
    assert view.state == "completed" and view.attempts_made == 2
    rows = await stored(db)
    assert len(rows) == 1 and rows[0].job_id == job.job_id
    assert event == {"event": "notification", "user_id": w.user.id, "id": rows[0].id}


async def test_fan_out_reaches_the_audience_as_it_is_when_the_job_runs(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_world(db)
    async with notification_system(redis_url, prefix, tmp_path, db) as system:
        prod = system.producer
        admins = await helpers.notify_company_admins.using(producer=prod)(
            company_id=w.lab.id,
            title="Audit",
            message="Quarterly audit tomorrow.",
            priority="high",
            action_url="/audit",
        )
        techs = await helpers.notify_company_role.using(producer=prod)(
            company_id=w.lab.id, role="lab_technician", title="Coater down", message="Use line 2."
        )
        # Added after the jobs were enqueued: they are resolved when the jobs run.
        late_admin = await add_user(db, w.lab.id, "late@example.com", Role.admin)
        tech = await add_user(db, w.lab.id, "tech@example.com", Role.lab_technician)
        await add_user(db, w.lab.id, "gone@example.com", Role.lab_technician, active=False)
        await add_user(db, w.practice.id, "other@example.com", Role.lab_technician)
        views = await run_all(system, [admins.job_id, techs.job_id])
        again = await helpers.notify_company_admins.using(
            options=EnqueueOptions(job_id=admins.job_id), producer=prod
        )(company_id=w.lab.id, title="Audit", message="x")
        assert again.job_id == admins.job_id  # the same job: nothing new runs or is stored
    assert [v.state for v in views] == ["completed"] * 2, [v.failed_reason for v in views]
    rows = await stored(db)
    by_job = {(r.job_id or "").split(":")[0]: [] for r in rows}
    for r in rows:
        by_job[(r.job_id or "").split(":")[0]].append(r.user_id)
    assert sorted(by_job[admins.job_id]) == sorted([w.user.id, late_admin])
    assert by_job[techs.job_id] == [tech]
    assert {r.job_id for r in rows} == {f"{admins.job_id}:{w.user.id}",
                                        f"{admins.job_id}:{late_admin}",
                                        f"{techs.job_id}:{tech}"}  # fmt: skip
    assert views[0].return_value["users"] == sorted([w.user.id, late_admin])


async def test_a_user_gone_gives_up_and_an_inactive_one_is_skipped(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w: World = await make_world(db)
    inactive = await add_user(db, w.lab.id, "off@example.com", Role.staff, active=False)
    async with notification_system(redis_url, prefix, tmp_path, db) as system:
        prod = system.producer
        gone = await helpers.notify_user.using(producer=prod)(
            user_id=999_999, title="t", message="m"
        )
        asleep = await helpers.notify_user.using(producer=prod)(
            user_id=inactive, title="t", message="m"
        )
        views = await run_all(system, [gone.job_id, asleep.job_id])
    assert views[0].state == "failed" and views[0].attempts_made == 1
    assert "user 999999 no longer exists" in (views[0].failed_reason or "")
    assert views[1].state == "completed"
    assert views[1].return_value["skipped"] == f"user {inactive} is inactive"
    assert await stored(db) == []
