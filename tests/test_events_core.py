"""The event log's core on SQLite and PostgreSQL: recording validates against the catalog and
rides the caller's transaction; the dispatcher serves each subscriber from its own cursor, a
failing or slow one never holding back another, and a restart resumes after the last event."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from sqlalchemy import func, select

from ils.domain.db import Database
from ils.domain.models.events import Event, EventCursor
from ils.errors import ConfigurationError, InvalidEventData
from ils.events.catalog import CATALOG, EVENT_TYPES, json_schemas
from ils.events.dispatcher import BatchSubscriber, Dispatcher, Subscriber
from ils.events.envelope import Actor, EventEnvelope, Subject, id_floor, new_event_id
from ils.events.record import record
from tests.support.statements import statements

ISSUE_TYPES = {
    "order.created", "order.updated", "order.status_changed", "order.shipped",
    "order.delivered", "order.cancelled", "invoice.issued", "invoice.paid",
    "payment.succeeded", "payment.failed", "product.price_changed", "product.low_stock",
    "product.out_of_stock", "user.created", "user.role_changed", "user.logged_in",
    "user.login_failed", "company.created", "marketplace.connection.requested",
    "marketplace.connection.accepted", "marketplace.connection.rejected",
    "ai.anomaly_detected", "document.generated", "oma.file_processed", "job.dead_lettered",
}  # fmt: skip
LATER = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)


class Collect(Subscriber):
    def __init__(self, name: str, types: frozenset[str] = frozenset()) -> None:
        self.name = name
        self.event_types = types
        self.seen: list[str] = []

    async def handle(self, envelope: EventEnvelope) -> None:
        self.seen.append(envelope.id)


class FailOn(Collect):
    def __init__(self, name: str, bad: set[str]) -> None:
        super().__init__(name)
        self.bad = bad

    async def handle(self, envelope: EventEnvelope) -> None:
        if envelope.id in self.bad:
            raise RuntimeError("receiver down")
        await super().handle(envelope)


class Stuck(Collect):
    timeout_s = 0.2

    async def handle(self, envelope: EventEnvelope) -> None:
        await asyncio.Event().wait()


class Batches(BatchSubscriber):
    """Takes batches; fails every call that holds an event of ``bad``."""

    def __init__(self, name: str, bad: set[str]) -> None:
        self.name = name
        self.bad = bad
        self.calls: list[list[str]] = []

    async def handle_batch(self, envelopes) -> None:  # type: ignore[no-untyped-def]
        ids = [e.id for e in envelopes]
        if self.bad & set(ids):
            raise RuntimeError("receiver down")
        self.calls.append(ids)


def created(order_id: int) -> dict[str, object]:
    return {"order_id": order_id, "number": f"ORD-{order_id}", "status": "pending",
            "customer_name": "Ada", "total": "12.50", "line_count": 1}  # fmt: skip


async def write(db: Database, n: int, company_id: int = 1) -> list[str]:
    ids = []
    async with db.session() as session:
        for i in range(1, n + 1):
            event = await record(
                session, "order.created", company_id=company_id, subject=("order", i),
                data=created(i), actor=Actor.user(7),
            )  # fmt: skip
            ids.append(event.id)
    return ids


def test_catalog_covers_the_issues_types_with_a_schema_each():
    assert set(EVENT_TYPES) >= ISSUE_TYPES
    schemas = json_schemas()
    assert len(schemas) == len(CATALOG)
    assert all(entry["schema"]["type"] == "object" for entry in schemas)


def test_ids_sort_by_time():
    early = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    assert id_floor(early) <= new_event_id(early) < id_floor(early + dt.timedelta(seconds=1))
    assert new_event_id(early) < new_event_id()


async def test_record_stores_the_validated_event_in_the_callers_transaction(db: Database):
    async with db.session() as session:
        event = await record(
            session, "order.created", company_id=3, subject=Subject.of("order", 9),
            data=created(9), actor=Actor.system(job_id="job-1"),
        )  # fmt: skip
    async with db.session() as session:
        row = await session.get(Event, event.id)
    assert row is not None
    envelope = row.envelope()
    assert (envelope.type, envelope.version, envelope.company_id) == ("order.created", 1, 3)
    assert envelope.actor == Actor.system(job_id="job-1")
    assert (envelope.subject_type, envelope.subject_id) == ("order", "9")
    assert envelope.data["total"] == "12.50"


async def test_a_rolled_back_transaction_leaves_no_event(db: Database):
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await write_in(session)
            raise RuntimeError("the change failed")
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 0


async def write_in(session) -> None:  # type: ignore[no-untyped-def]
    await record(session, "order.delivered", company_id=1, subject=("order", 1),
                 data={"order_id": 1, "number": "ORD-1"}, actor=Actor.system())  # fmt: skip
    await session.flush()


@pytest.mark.parametrize(
    ("event_type", "data", "field"),
    [
        ("order.created", {**created(1), "total": "abc"}, "total"),
        ("order.created", {**created(1), "surprise": 1}, "surprise"),
        ("order.delivered", {"number": "ORD-1"}, "order_id"),
        ("order.exploded", {}, "type"),
    ],
)
async def test_a_bad_payload_is_a_typed_error_naming_the_field(
    db: Database, event_type: str, data: dict[str, object], field: str
):
    async with db.session() as session:
        with pytest.raises(InvalidEventData) as caught:
            await record(session, event_type, company_id=1, subject=("order", 1), data=data,
                         actor=Actor.system())  # fmt: skip
        assert field in [e["field"] for e in caught.value.errors]
        assert not session.new


async def test_each_subscriber_reads_from_its_own_cursor(db: Database):
    ids = await write(db, 5)
    bad = FailOn("flaky", {ids[2]})
    good, slow = Collect("steady"), Stuck("stuck")
    dispatcher = Dispatcher(db.sessions)
    dispatcher.register(bad, good, slow)
    outcomes = await dispatcher.run_once(LATER)
    assert good.seen == ids and outcomes["steady"].delivered == 5
    assert bad.seen == ids[:2] and "receiver down" in (outcomes["flaky"].error or "")
    assert outcomes["stuck"].delivered == 0 and "timed out" in (outcomes["stuck"].error or "")
    # The receiver is back; a new dispatcher (a restart) resumes after the last delivered one.
    bad.bad.clear()
    again = Dispatcher(db.sessions)
    again.register(bad, Collect("steady"))
    outcomes = await again.run_once(LATER)
    assert bad.seen == ids and outcomes["steady"].delivered == 0
    async with db.session() as session:
        cursor = await session.get(EventCursor, "flaky")
    assert cursor is not None and cursor.position == ids[-1] and cursor.last_error is None


async def test_a_batch_subscriber_takes_a_pass_in_one_call_and_one_cursor_write(db: Database):
    """The events of a pass in one call, the cursor written once after it; a failing batch is
    handed over event by event, stopping at the one that fails (its cursor before it)."""
    ids = await write(db, 5)
    sub, flaky = Batches("batched", set()), Batches("flaky-batched", {ids[3]})
    dispatcher = Dispatcher(db.sessions)
    dispatcher.register(sub, flaky)
    with statements(db) as seen:
        outcomes = await dispatcher.run_once(LATER)
    assert sub.calls == [ids] and outcomes["batched"].delivered == 5
    moves = [s for s in seen if s.startswith("UPDATE event_cursors SET position")]
    assert len(moves) == 1 + 3 + 1  # one for the batch; three, then the error, for the other
    assert flaky.calls == [[i] for i in ids[:3]] and outcomes["flaky-batched"].delivered == 3
    async with db.session() as session:
        cursor = await session.get(EventCursor, "flaky-batched")
    assert cursor is not None and cursor.position == ids[2] and cursor.last_error


async def test_events_inside_the_settle_time_wait_for_a_later_pass(db: Database):
    ids = await write(db, 2)
    sub = Collect("late")
    dispatcher = Dispatcher(db.sessions, settle_s=3600)
    dispatcher.register(sub)
    await dispatcher.run_once()
    assert sub.seen == []
    assert await dispatcher.newest_unsettled() == ids[-1]
    await dispatcher.run_once(LATER + dt.timedelta(hours=1))
    assert sub.seen == ids


async def test_a_leased_cursor_is_left_to_its_holder(db: Database):
    await write(db, 1)
    first, second = Dispatcher(db.sessions), Dispatcher(db.sessions)
    sub = Collect("one")
    first.register(sub)
    second.register(sub)
    assert await first._lease(sub, LATER) is not None
    assert (await second.run_once(LATER))["one"].busy
    await first._release("one")
    assert (await second.run_once(LATER))["one"].delivered == 1


async def test_a_pass_asks_for_a_follow_up_when_a_subscriber_was_held_or_events_came_late(
    db: Database,
):
    await write(db, 1)
    first, second = Dispatcher(db.sessions), Dispatcher(db.sessions)
    sub = Collect("one")
    first.register(sub)
    second.register(sub)
    assert await first._lease(sub, LATER) is not None
    held = await second.run_once(LATER)
    # The holder may read up to an older horizon, or die holding the lease: never rely on it.
    assert held["one"].busy and await second.needs_follow_up(LATER, held)
    await first._release("one")
    done = await second.run_once(LATER)
    assert done["one"].delivered == 1 and not await second.needs_follow_up(LATER, done)
    # A pass made a minute ago read up to its own horizon: an event recorded since is left.
    before = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    passed = await second.run_once(before)
    [late] = await write(db, 1)
    assert await second.needs_follow_up(before, passed)
    assert (await second.run_once(LATER))["one"].delivered == 1 and sub.seen[-1] == late


def test_subscribers_are_checked_against_the_catalog():
    dispatcher = Dispatcher(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"did you mean 'order\.shipped'"):
        dispatcher.register(Collect("typo", frozenset({"order.shiped"})))
    dispatcher.register(Collect("ok"))
    with pytest.raises(ConfigurationError, match="twice"):
        dispatcher.register(Collect("ok"))
