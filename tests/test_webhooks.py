"""Outgoing webhooks against a real HTTP receiver that verifies each signature with the
``standardwebhooks`` library: delivered and signed, retried on a 500 and on a timeout with one
delivery row per attempt under one ``webhook-id``, disabled after failed events with the admins
told once, both secrets signing during a rotation's overlap, refused addresses and redirects, and
one delivery per event and endpoint however often it is handed over."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Notification, WebhookDelivery, WebhookEndpoint
from ils.domain.services import webhooks as service
from ils.errors import ConfigurationError, Invalid, JobNotFound
from ils.events.envelope import Actor
from ils.events.log import EventFilter
from ils.events.record import record as record_event
from ils.events.replay import replay
from ils.events.subscribers import dispatcher_for
from ils.jobs import build_registry
from ils.jobs.webhooks.deliver import deliver_webhook, delivery_job_id
from ils.jobs.webhooks.event import WebhookEvent, new_event_id
from ils.jobs.webhooks.fanout import enqueue_deliveries
from ils.jobs.webhooks.record import Attempt, disabled_notice_id
from ils.jobs.webhooks.record import record as record_attempt
from ils.jobs.webhooks.replay import replay_target, scoped
from ils.jobs.webhooks.sender import Sent
from ils.queue.outbox_table import outbox
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import Registry
from ils.queue.settings import QUEUE_NAMES
from ils.queue.tenancy import PLATFORM
from tests.conftest import make_settings
from tests.support.email_world import make_world
from tests.support.running import running
from tests.support.webhook_receiver import webhook_receiver

LOCAL = {"ILS_WEBHOOK_ALLOW": "127.0.0.1/32", "ILS_WEBHOOK_TIMEOUT_S": "0.5"}


def fast_registry() -> Registry:
    """The ILS catalogue, with the webhook's retries 50 ms apart instead of 30 s."""
    registry = Registry(QUEUE_NAMES)
    for job_type in build_registry():
        if job_type.key == deliver_webhook.key:
            job_type = dataclasses.replace(job_type, backoff_delay_ms=50)
        registry.add(job_type)
    return registry


@contextlib.asynccontextmanager
async def webhook_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database, **env: str
) -> AsyncIterator[JobSystem]:
    settings = make_settings(redis_url, prefix, tmp_path, env={**LOCAL, **env})
    system = JobSystem(settings, registry=fast_registry(), database=db)
    try:
        yield system
    finally:
        await system.close()


async def add_endpoint(db: Database, company_id: int, url: str, allow: str = "127.0.0.1/32"
                       ) -> WebhookEndpoint:  # fmt: skip
    from ils.jobs.webhooks.settings import WebhookSettings

    data = service.EndpointCreate(url=url, event_types=["order.shipped"])
    async with db.session() as s:
        return await service.create_endpoint(
            s, data, company_id, WebhookSettings(allow=allow).allow
        )  # type: ignore[arg-type]


def shipped(company_id: int) -> WebhookEvent:
    return WebhookEvent(
        id=new_event_id(), type="order.shipped", company_id=company_id,
        occurred_at=dt.datetime.now(dt.UTC), actor={"kind": "system"}, subject_type="order",
        subject_id="42", data={"order_id": 42, "number": "ORD-000042", "tracking_number": "1Z"},
    )  # fmt: skip


async def fan_out(db: Database, event: WebhookEvent) -> list[str]:
    async with db.session() as s:
        return [sent.job_id for sent in await enqueue_deliveries(s, event)]


async def deliveries(db: Database, endpoint_id: int) -> list[WebhookDelivery]:
    async with db.session() as s:
        query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
        return list(await s.scalars(query.order_by(WebhookDelivery.id)))


async def endpoint_now(db: Database, endpoint_id: int) -> WebhookEndpoint:
    async with db.session() as s:
        found = await s.get(WebhookEndpoint, endpoint_id)
        assert found is not None
        return found


@dataclasses.dataclass
class Wired:
    """A world, a receiver answering as scripted, a job system, and the lab's endpoint to the
    receiver (whose secret the receiver verifies with)."""

    world: Any
    rx: Any
    system: JobSystem
    endpoint: WebhookEndpoint


@contextlib.asynccontextmanager
async def wired(
    redis_url: str, prefix: str, tmp_path: Path, db: Database, *script: str, **env: str
) -> AsyncIterator[Wired]:
    world = await make_world(db)
    async with (
        webhook_receiver(*script) as rx,
        webhook_system(redis_url, prefix, tmp_path, db, **env) as system,
    ):
        endpoint = await add_endpoint(db, world.lab.id, rx.url)
        rx.secrets = [endpoint.secret]
        yield Wired(world, rx, system, endpoint)


async def finished(system: JobSystem, job_id: str, queue: str = "notification") -> Any:
    return await system.admin.wait_for_job(queue, job_id, timeout_s=30)


async def test_an_event_is_delivered_signed_and_logged(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    async with wired(redis_url, prefix, tmp_path, db, "ok") as w:
        world, rx, system, endpoint = w.world, w.rx, w.system, w.endpoint
        event = shipped(world.lab.id)
        [job_id] = await fan_out(db, event)
        assert job_id == delivery_job_id(event.id, endpoint.id)
        async with running(system, "notification"):
            assert (await finished(system, job_id)).state == "completed"
        [got] = rx.requests
    assert got.verified_by == [endpoint.secret]
    assert got.headers["webhook-id"] == event.id
    assert got.headers["content-type"] == "application/json"
    body = json.loads(got.body)
    assert body["id"] == event.id and body["type"] == "order.shipped"
    assert body["data"]["tracking_number"] == "1Z" and body["company_id"] == world.lab.id
    [row] = await deliveries(db, endpoint.id)
    assert (row.ok, row.status_code, row.attempt, row.event_id) == (True, 200, 1, event.id)
    assert row.response_excerpt == "thanks" and row.latency_ms is not None
    assert rx.processed == [event.id]


@pytest.mark.parametrize("failure", ["500", "hang"])
async def test_a_failed_attempt_is_retried_under_the_same_webhook_id(
    failure: str, redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    async with wired(redis_url, prefix, tmp_path, db, failure, failure, "ok") as w:
        world, rx, system, endpoint = w.world, w.rx, w.system, w.endpoint
        event = shipped(world.lab.id)
        [job_id] = await fan_out(db, event)
        async with running(system, "notification"):
            view = await finished(system, job_id)
        assert view.state == "completed"
        ids = {r.headers["webhook-id"] for r in rx.requests}
    rows = await deliveries(db, endpoint.id)
    assert [(r.attempt, r.ok) for r in rows] == [(1, False), (2, False), (3, True)]
    assert {r.max_attempts for r in rows} == {15}
    if failure == "500":
        assert [r.status_code for r in rows] == [500, 500, 200]
        assert rows[0].error == "HTTP 500" and rows[0].response_excerpt == "receiver broke"
    else:
        assert [r.status_code for r in rows] == [None, None, 200]
        assert rows[0].error is not None and rows[0].error.startswith("timed out")
    assert ids == {event.id} and rx.processed == [event.id]
    assert (await endpoint_now(db, endpoint.id)).failure_streak == 0


async def test_concurrent_deliveries_of_one_endpoint_record_without_deadlock(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    """Deliveries to one endpoint finishing at once, failed for good and succeeded, each record
    their row and move the streak; none waits on another into a deadlock (each delivery row's
    foreign key share-locks the endpoint, so locking it FOR UPDATE after deadlocked on
    PostgreSQL)."""
    world = await make_world(db)
    endpoint = await add_endpoint(db, world.lab.id, "http://127.0.0.1:9/hook")
    failed, ok = Sent(500, 3, "no", "HTTP 500"), Sent(200, 3, "yes", None)
    async with webhook_system(redis_url, prefix, tmp_path, db) as system:

        def attempt(n: int) -> Attempt:
            return Attempt(f"job-{n}", 15, 15, endpoint, shipped(world.lab.id))

        async def deliver(n: int, sent: Sent) -> bool:
            return await record_attempt(db, system.producer, attempt(n), sent, True, 100)

        results = await asyncio.gather(*(deliver(n, failed) for n in range(12)))
        assert results == [True] * 12
        assert (await endpoint_now(db, endpoint.id)).failure_streak == 12
        results = await asyncio.gather(*(deliver(n, ok) for n in range(12, 24)))
        assert results == [True] * 12
    assert (await endpoint_now(db, endpoint.id)).failure_streak == 0
    assert len(await deliveries(db, endpoint.id)) == 24


async def test_failed_events_disable_the_endpoint_and_tell_the_admins_once(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    env = {"ILS_WEBHOOK_DISABLE_AFTER": "2"}
    async with wired(redis_url, prefix, tmp_path, db, "500", **env) as w:
        world, rx, system, endpoint = w.world, w.rx, w.system, w.endpoint
        async with running(system, "notification"):
            for n in range(3):
                event = shipped(world.lab.id)
                sent = await deliver_webhook.send(
                    {"endpoint_id": endpoint.id, "event": event}, company_id=world.lab.id,
                    options=EnqueueOptions(attempts=1, job_id=f"dis{n}-{endpoint.id}"),
                    producer=system.producer,
                )  # fmt: skip
                await finished(system, sent.job_id)
            notice = await finished(system, disabled_notice_id(endpoint.id, 1))
        assert notice.state == "completed"
        assert len(rx.requests) == 2  # the third event found the endpoint disabled
    found = await endpoint_now(db, endpoint.id)
    assert not found.enabled and found.failure_streak == 2 and found.disabled_count == 1
    assert found.disabled_reason == "2 events in a row failed for good"
    async with db.session() as s:
        notes = list(await s.scalars(select(Notification)))
        dead = (await system.admin.dead_letters.page(s, PLATFORM))["dead_letters"]
        notices = await s.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.id.like("dlq-%-notice"))
        )
    # the lab's admin, once: each spent delivery is a dead letter (recorded with its failure,
    # in the transaction that would queue its notice), but only the disabling tells the admins
    assert sorted(d["job_id"] for d in dead) == [f"dis{n}-{endpoint.id}" for n in range(2)]
    assert notices == 0
    for letter in dead:
        with pytest.raises(JobNotFound):
            await system.admin.get_job("notification", f"dlq-{letter['id']}-notice")
    assert [n.title for n in notes] == ["A webhook endpoint was disabled"]
    assert [n.user_id for n in notes] == [world.user.id]
    # Enabled again: the streak starts afresh, and new events are fanned out to it.
    async with db.session() as s:
        row = await s.get(WebhookEndpoint, endpoint.id)
        assert row is not None
        service.enable(row)
    assert (await endpoint_now(db, endpoint.id)).failure_streak == 0
    async with webhook_system(redis_url, prefix, tmp_path, db):
        assert len(await fan_out(db, shipped(world.lab.id))) == 1


async def test_during_a_rotation_both_secrets_sign(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    world = await make_world(db)
    async with (
        webhook_receiver("ok") as rx,
        webhook_system(redis_url, prefix, tmp_path, db) as system,
    ):
        endpoint = await add_endpoint(db, world.lab.id, rx.url)
        old = endpoint.secret
        async with db.session() as s:
            row = await s.get(WebhookEndpoint, endpoint.id)
            assert row is not None
            service.rotate_secret(row, overlap_s=3600)
            new = row.secret
        rx.secrets = [old, new]
        async with running(system, "notification"):
            await finished(system, (await fan_out(db, shipped(world.lab.id)))[0])
            async with db.session() as s:  # the overlap is over
                row = await s.get(WebhookEndpoint, endpoint.id)
                assert row is not None
                row.previous_secret_expires_at = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
            await finished(system, (await fan_out(db, shipped(world.lab.id)))[0])
        during, after = rx.requests
    assert new != old
    assert len(during.headers["webhook-signature"].split(" ")) == 2
    assert during.verified_by == [old, new]  # each secret alone verifies
    assert after.verified_by == [new]


async def test_one_delivery_per_event_and_endpoint_and_the_receiver_drops_replays(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    world = await make_world(db)
    async with (
        webhook_receiver("ok") as rx,
        webhook_system(redis_url, prefix, tmp_path, db) as system,
    ):
        endpoint = await add_endpoint(db, world.lab.id, rx.url)
        other = await add_endpoint(db, world.practice.id, rx.url)  # another company's
        rx.secrets = [endpoint.secret]
        event = shipped(world.lab.id)
        first, again = await fan_out(db, event), await fan_out(db, event)
        assert first == again  # one job id: the second hand-over adds nothing
        async with running(system, "notification"):
            await finished(system, first[0])
            [row] = await deliveries(db, endpoint.id)
            async with db.session() as s:  # an admin's manual retry: the same webhook-id
                retried = await service.retry_delivery(s, await s.get(WebhookDelivery, row.id))  # type: ignore[arg-type]
            await finished(system, retried.job_id)
        assert [r.headers["webhook-id"] for r in rx.requests] == [event.id, event.id]
        assert rx.processed == [event.id]
    assert await deliveries(db, other.id) == []


async def test_a_delivery_job_added_again_after_its_completed_job_went_sends_nothing(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    """BullMQ keeps a queue's completed jobs up to a count: past it, the same job id is a new
    job. A delivery handed over again then (the event log's subscriber re-hands the events after
    its cursor when it restarts) finds its succeeded attempt and sends nothing."""
    async with wired(redis_url, prefix, tmp_path, db, "ok") as w:
        event = shipped(w.world.lab.id)
        [job_id] = await fan_out(db, event)
        async with running(w.system, "notification"):
            assert (await finished(w.system, job_id)).state == "completed"
            queue = w.system.producer.queue("notification")
            await queue.remove(job_id)  # as the retention trim drops it
            assert await fan_out(db, event) == [job_id]  # a new job under the same id
            again = await finished(w.system, job_id)
        assert again.state == "completed"
        assert again.return_value == {"skipped": f"delivery {job_id} already succeeded"}
        assert [r.headers["webhook-id"] for r in w.rx.requests] == [event.id]
        assert len(await deliveries(db, w.endpoint.id)) == 1


async def test_the_event_log_subscriber_enqueues_the_deliveries(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    async with wired(redis_url, prefix, tmp_path, db, "ok") as w:
        world, rx, system, endpoint = w.world, w.rx, w.system, w.endpoint
        async with db.session() as s:
            recorded = await record_event(
                s, "order.shipped", company_id=world.lab.id, subject=("order", world.order.id),
                data={"order_id": world.order.id, "number": "ORD-000042",
                      "tracking_number": "1Z999"},
                actor=Actor.system(), dispatch=False,
            )  # fmt: skip
            event_id = recorded.id
        dispatcher = dispatcher_for(db, None, settle_s=0)
        outcomes = await dispatcher.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
        assert outcomes["webhooks"].error is None
        async with running(system, "notification"):
            await finished(system, delivery_job_id(event_id, endpoint.id))
        [got] = rx.requests
    assert got.headers["webhook-id"] == event_id and got.verified_by == [endpoint.secret]
    assert json.loads(got.body)["data"]["tracking_number"] == "1Z999"


async def test_a_refused_address_is_never_contacted(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    """Without the allow-list the receiver on 127.0.0.1 is loopback: the job gives up at once,
    the attempt is logged with the reason, and nothing reaches the receiver."""
    world = await make_world(db)
    no_allow_list = {"ILS_WEBHOOK_ALLOW": ""}
    async with webhook_receiver("ok") as rx, \
            webhook_system(redis_url, prefix, tmp_path, db, **no_allow_list) as system:  # fmt: skip
        endpoint = await add_endpoint(db, world.lab.id, rx.url)
        [job_id] = await fan_out(db, shipped(world.lab.id))
        async with running(system, "notification"):
            view = await finished(system, job_id)
        assert view.state == "failed" and "loopback" in (view.failed_reason or "")
        assert rx.requests == []
    [row] = await deliveries(db, endpoint.id)
    assert row.status_code is None and "127.0.0.1 is a loopback address" in (row.error or "")
    assert (await endpoint_now(db, endpoint.id)).failure_streak == 1


async def test_a_redirect_is_not_followed(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    world = await make_world(db)
    async with webhook_receiver("ok") as target, \
            webhook_receiver(f"redirect:{target.url}") as rx, \
            webhook_system(redis_url, prefix, tmp_path, db) as system:  # fmt: skip
        endpoint = await add_endpoint(db, world.lab.id, rx.url)
        rx.secrets = target.secrets = [endpoint.secret]
        event = shipped(world.lab.id)
        sent = await deliver_webhook.send(
            {"endpoint_id": endpoint.id, "event": event}, company_id=world.lab.id,
            options=EnqueueOptions(attempts=1), producer=system.producer,
        )  # fmt: skip
        async with running(system, "notification"):
            assert (await finished(system, sent.job_id)).state == "failed"
        assert len(rx.requests) == 1 and target.requests == []
    [row] = await deliveries(db, endpoint.id)
    assert row.status_code == 302 and "not followed" in (row.error or "")


async def test_bad_urls_are_refused_naming_the_field(db: Database) -> None:
    world = await make_world(db)
    for url in ("http://receiver.example/hook", "https://10.1.2.3/hook",
                "https://169.254.169.254/latest", "https://[::ffff:127.0.0.1]/hook",
                "ftp://receiver.example/", "https://user:pw@receiver.example/"):  # fmt: skip
        with pytest.raises(Invalid) as caught:
            await add_endpoint(db, world.lab.id, url, allow="")
        assert caught.value.field == "url", url
    with pytest.raises(ValueError, match="unknown event type"):
        service.EndpointCreate(url="https://receiver.example/", event_types=["order.shiped"])
    assert (await add_endpoint(db, world.lab.id, "https://receiver.example/hook", allow="")).id
    assert (await add_endpoint(db, world.lab.id, "http://127.0.0.1:9/hook")).id  # allow-listed


async def test_a_range_replayed_to_one_endpoint_reaches_its_receiver_once_per_event(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    """``webhook:<id>`` as a replay's subscriber: each of the company's events of the range is
    delivered again (a new job, the same webhook-id), another company's never; replaying twice
    sends twice and the receiver takes each event once; a disabled endpoint is refused."""
    async with wired(redis_url, prefix, tmp_path, db, "ok") as w:
        world, rx, system, endpoint = w.world, w.rx, w.system, w.endpoint
        data = {"order_id": world.order.id, "number": "ORD-000042", "tracking_number": "1Z"}
        async with db.session() as s:
            ids = [
                (await record_event(
                    s, "order.shipped", company_id=company, subject=("order", world.order.id),
                    data=data, actor=Actor.system(), dispatch=False,
                )).id
                for company in (world.lab.id, world.lab.id, world.practice.id)
            ]  # fmt: skip
        now = dt.datetime.now(dt.UTC)
        which = EventFilter(
            since=now - dt.timedelta(minutes=5), until=now + dt.timedelta(minutes=5)
        )
        dispatcher = dispatcher_for(db, None, settle_s=0)
        for _ in range(2):
            async with db.session() as s:
                target = await replay_target(s, dispatcher, f"webhook:{endpoint.id}")
                done = await replay(s, target, scoped(target, which))
            assert (done.matched, done.delivered, done.error) == (2, 2, None)
        async with running(system, "notification"):
            got = await rx.wait_requests(4)
        assert sorted(r.headers["webhook-id"] for r in got) == sorted(ids[:2] * 2)
        assert sorted(rx.processed) == sorted(ids[:2])  # the receiver's dedup by webhook-id
        async with db.session() as s:
            with pytest.raises(ConfigurationError, match="company"):
                scoped(target, dataclasses.replace(which, company_id=world.practice.id))
            row = await s.get(WebhookEndpoint, endpoint.id)
            assert row is not None
            row.enabled = False
        async with db.session() as s:
            with pytest.raises(ConfigurationError, match="disabled"):
                await replay_target(s, dispatcher, f"webhook:{endpoint.id}")
            with pytest.raises(ConfigurationError, match="no webhook endpoint"):
                await replay_target(s, dispatcher, "webhook:999999")
