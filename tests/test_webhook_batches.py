"""The webhooks' database work shared by what runs at once, on SQLite and PostgreSQL: deliveries
finishing together read their endpoint in one query and write their attempts' rows in one
transaction (each attempt still once, a success still resetting the streak, a bad row failing
alone); the webhooks subscriber reads a company's endpoints once per batch of events and writes
the batch's jobs in one statement; and the coalescer under both."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import func, select

from ils.domain.db import Database
from ils.domain.models import WebhookDelivery, WebhookEndpoint
from ils.domain.models.events import EventCursor
from ils.domain.services import webhooks as service
from ils.errors import GiveUp
from ils.events.envelope import Actor
from ils.events.record import record as record_event
from ils.events.subscribers import dispatcher_for
from ils.jobs.coalesce import Coalescer
from ils.jobs.webhooks.deliver import delivery_job_id
from ils.jobs.webhooks.event import WebhookEvent, new_event_id
from ils.jobs.webhooks.ledger import Ledger
from ils.jobs.webhooks.record import Attempt
from ils.jobs.webhooks.sender import Sent
from ils.jobs.webhooks.settings import WebhookSettings
from ils.queue.outbox_table import outbox
from tests.conftest import make_settings
from tests.support.email_world import make_world
from tests.support.statements import statements

OK, FAILED = Sent(200, 3, "yes", None), Sent(500, 3, "no", "HTTP 500")


async def endpoint_of(db: Database, company_id: int, streak: int = 0) -> WebhookEndpoint:
    data = service.EndpointCreate(url="http://127.0.0.1:9/hook", event_types=["order.shipped"])
    async with db.session() as s:
        allow = WebhookSettings(allow="127.0.0.1/32").allow  # type: ignore[arg-type]
        endpoint = await service.create_endpoint(s, data, company_id, allow)
        endpoint.failure_streak = streak
    return endpoint


def shipped(company_id: int) -> WebhookEvent:
    return WebhookEvent(id=new_event_id(), type="order.shipped", company_id=company_id,
                        occurred_at=dt.datetime.now(dt.UTC), data={"order_id": 1})  # fmt: skip


async def streak_of(db: Database, endpoint_id: int) -> int:
    async with db.session() as s:
        found = await s.get(WebhookEndpoint, endpoint_id)
        assert found is not None
        return found.failure_streak


async def rows_of(db: Database, endpoint_id: int) -> int:
    async with db.session() as s:
        query = select(func.count()).select_from(WebhookDelivery)
        return int(await s.scalar(query.where(WebhookDelivery.endpoint_id == endpoint_id)) or 0)


async def test_attempts_finishing_together_share_one_transaction_each_recorded_once(
    db: Database,
) -> None:
    world = await make_world(db)
    endpoint = await endpoint_of(db, world.lab.id, streak=3)
    ledger = Ledger(db)
    attempts = [Attempt(f"job-{n}", 1, 15, endpoint, shipped(world.lab.id)) for n in range(20)]

    async def record_all(sent: Sent) -> list[bool]:
        producer = None  # a success or a retried failure enqueues nothing
        return await asyncio.gather(
            *(ledger.record(producer, a, sent, False, 5) for a in attempts)  # type: ignore[arg-type]
        )

    with statements(db) as seen:
        assert await record_all(OK) == [True] * 20
    assert await rows_of(db, endpoint.id) == 20
    assert await streak_of(db, endpoint.id) == 0  # the successes reset the streak
    assert 1 <= seen.count("COMMIT") < 20  # not one transaction per attempt
    # The same attempts again (a re-run): nothing new, and nothing else changes.
    async with db.session() as s:
        row = await s.get(WebhookEndpoint, endpoint.id)
        assert row is not None
        row.failure_streak = 2
    assert await record_all(OK) == [False] * 20
    assert await rows_of(db, endpoint.id) == 20
    assert await streak_of(db, endpoint.id) == 2
    # A failure that will be retried writes its row and leaves the streak alone.
    retried = Attempt("job-0", 2, 15, endpoint, attempts[0].event)
    assert await ledger.record(None, retried, FAILED, False, 5) is True  # type: ignore[arg-type]
    assert await rows_of(db, endpoint.id) == 21 and await streak_of(db, endpoint.id) == 2


async def test_a_bad_row_fails_alone_and_the_batch_is_written(db: Database) -> None:
    world = await make_world(db)
    good, gone = await endpoint_of(db, world.lab.id), await endpoint_of(db, world.lab.id)
    async with db.session() as s:
        row = await s.get(WebhookEndpoint, gone.id)
        await s.delete(row)
    ledger = Ledger(db)
    items = [Attempt(f"good-{n}", 1, 15, good, shipped(world.lab.id)) for n in range(5)]
    items.insert(2, Attempt("gone-1", 1, 15, gone, shipped(world.lab.id)))
    results = await asyncio.gather(
        *(ledger.record(None, a, OK, False, 5) for a in items),  # type: ignore[arg-type]
        return_exceptions=True,
    )
    assert results[:2] + results[3:] == [True] * 5
    assert results[2] is not True  # its endpoint is gone: not recorded
    assert await rows_of(db, good.id) == 5 and await rows_of(db, gone.id) == 0


async def test_endpoint_reads_made_together_are_one_query_and_see_changes(db: Database) -> None:
    world = await make_world(db)
    endpoint = await endpoint_of(db, world.lab.id)
    ledger = Ledger(db)
    with statements(db) as seen:
        found = await asyncio.gather(*(ledger.endpoint(endpoint.id) for _ in range(10)))
    assert {e.id for e in found} == {endpoint.id} and all(e.enabled for e in found)
    assert len([s for s in seen if "FROM webhook_endpoints" in s]) == 1
    async with db.session() as s:
        row = await s.get(WebhookEndpoint, endpoint.id)
        assert row is not None
        row.enabled = False
    assert not (await ledger.endpoint(endpoint.id)).enabled  # read after it was asked for
    with pytest.raises(GiveUp, match="no longer exists"):
        await ledger.endpoint(999_999)


async def record_shipped(db: Database, company_id: int, count: int) -> list[str]:
    """``count`` ``order.shipped`` events of the company, recorded without a dispatch; their ids."""
    async with db.session() as s:
        return [
            (await record_event(
                s, "order.shipped", company_id=company_id, subject=("order", n),
                data={"order_id": n, "number": f"ORD-{n}", "tracking_number": "1Z"},
                actor=Actor.system(), dispatch=False,
            )).id
            for n in range(1, count + 1)
        ]  # fmt: skip


async def test_the_subscriber_reads_endpoints_once_and_writes_a_batch_in_one_statement(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    from ils.bootstrap import JobSystem

    world = await make_world(db)
    endpoint = await endpoint_of(db, world.lab.id)
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    try:
        ids = await record_shipped(db, world.lab.id, 12)
        dispatcher = dispatcher_for(db, None, settle_s=0)
        with statements(db) as seen:
            outcomes = await dispatcher.run_once(dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5))
        assert outcomes["webhooks"].error is None and outcomes["webhooks"].delivered == 12
        reads = [s for s in seen if "FROM webhook_endpoints" in s]
        writes = [s for s in seen if s.startswith("INSERT INTO job_outbox")]
        assert (len(reads), len(writes)) == (1, 1)
        async with db.session() as s:
            queued = set(await s.scalars(select(outbox.c.id)))
        assert {delivery_job_id(i, endpoint.id) for i in ids} <= queued
    finally:
        await system.close()


async def test_calls_made_while_a_batch_runs_go_together_in_the_next() -> None:
    batches: list[list[int]] = []
    started, hold = asyncio.Event(), asyncio.Event()

    async def run(items: list[int]) -> list[int | BaseException]:
        batches.append(items)
        if len(batches) == 1:
            started.set()
            await hold.wait()
        return [ValueError(f"bad {i}") if i == 13 else i * 2 for i in items]

    double: Coalescer[int, int] = Coalescer(run)
    first = asyncio.ensure_future(double(1))
    await started.wait()  # the first batch is under way, held
    later = [asyncio.ensure_future(double(i)) for i in (2, 13, 4, 5)]
    await asyncio.sleep(0)  # one turn of the loop: the calls are made (no waiting on time)
    later[3].cancel()
    hold.set()
    assert await first == 2
    assert await later[0] == 4 and await later[2] == 8
    with pytest.raises(ValueError, match="bad 13"):
        await later[1]
    assert batches == [[1], [2, 13, 4, 5]]  # the cancelled call's item ran, unseen


async def test_webhooks_get_events_before_they_settle_once_and_the_cursor_waits(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> None:
    """A pass hands the webhooks subscriber the committed events its settle time still holds
    back: their deliveries are queued at once, the cursor stays; when they settle, the cursor
    moves past them without handing them again (one outbox write in all)."""
    from ils.bootstrap import JobSystem

    world = await make_world(db)
    endpoint = await endpoint_of(db, world.lab.id)
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    try:
        ids = await record_shipped(db, world.lab.id, 3)
        now = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=1)
        unsettled = dispatcher_for(db, None, settle_s=3600)
        outcome = (await unsettled.run_once(now))["webhooks"]
        assert (outcome.delivered, outcome.early) == (0, 3)
        async with db.session() as s:
            queued = set(await s.scalars(select(outbox.c.id)))
            cursor = await s.get(EventCursor, "webhooks")
        assert {delivery_job_id(i, endpoint.id) for i in ids} <= queued
        assert cursor is not None and cursor.position == ""
        again = await dispatcher_for(db, None, settle_s=3600).run_once(now)
        assert again["webhooks"].early == 0  # this process handed them already
        settled = dispatcher_for(db, None, settle_s=0)
        with statements(db) as seen:
            outcome = (await settled.run_once(now + dt.timedelta(seconds=1)))["webhooks"]
        assert (outcome.delivered, outcome.early) == (3, 0)
        assert not [s for s in seen if s.startswith("INSERT INTO job_outbox")]
        async with db.session() as s:
            cursor = await s.get(EventCursor, "webhooks")
        assert cursor is not None and cursor.position == ids[-1]
    finally:
        await system.close()
