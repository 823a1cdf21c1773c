"""Events recorded by the domain services, on SQLite and PostgreSQL: an event exists iff its
change committed (a failure injected between the two rolls both back), each transaction queues
one dispatch through the outbox, and the dispatcher hands each event to a subscriber once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import CompanyKind
from ils.domain.models import Company
from ils.domain.models.events import Event, EventCursor
from ils.domain.services.companies import CompanyCreate, create_company
from ils.events.dispatcher import Dispatcher
from ils.events.emit_jobs import document_generated
from ils.events.envelope import new_event_id
from ils.jobs.notification.events import dispatch_job_id, queue_dispatch
from ils.queue.outbox_table import outbox
from tests.support.running import running
from tests.test_events_core import Collect

LATER = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)


def spec(slug: str) -> CompanyCreate:
    return CompanyCreate(name=f"Lab {slug}", slug=slug, kind=CompanyKind.lab)


async def counts(db: Database) -> tuple[int, int, int]:
    """Companies, events and queued dispatches."""
    async with db.session() as session:
        companies = await session.scalar(select(func.count()).select_from(Company))
        events = await session.scalar(select(func.count()).select_from(Event))
        dispatches = await session.scalar(
            select(func.count()).select_from(outbox).where(outbox.c.name == "dispatch-events")
        )
    return int(companies or 0), int(events or 0), int(dispatches or 0)


async def test_a_change_commits_with_its_event_and_one_dispatch(db_system: JobSystem, db: Database):
    before = await counts(db)
    async with db.session() as session:
        await create_company(session, spec("north"))
        await create_company(session, spec("south"))
    companies, events, dispatches = await counts(db)
    assert (companies, events, dispatches) == (before[0] + 2, before[1] + 2, before[2] + 1)
    async with db.session() as session:
        found = (await session.scalars(select(Event).order_by(Event.id))).all()
    assert [e.type for e in found[-2:]] == ["company.created", "company.created"]
    assert [e.data["name"] for e in found[-2:]] == ["Lab north", "Lab south"]
    assert found[-1].actor.kind == "system"


async def test_the_transactions_of_one_quarter_hand_its_dispatch_over_once(
    db_system: JobSystem, db: Database
):
    """Every transaction that records events in the same quarter of a second asks for the same
    dispatch pass; the commit that wrote its outbox row hands it to BullMQ, the others join it
    (before, each commit handed it over again and marked the row relayed again)."""
    event_id = new_event_id()
    job_id = dispatch_job_id(event_id)
    queue = db_system.producer.queue("notification")
    states = []
    for _ in range(2):
        async with db.session() as session:
            assert await queue_dispatch(session, event_id)
        await db_system.relay.wait_idle()
        states.append(await queue.getJobState(job_id))
        await queue.remove(job_id)  # handed over again, it would be back after the next commit
    assert states == ["prioritized", "unknown"]  # (the pass has a priority)
    _, _, dispatches = await counts(db)
    assert dispatches == 1


async def test_a_failure_after_the_change_leaves_no_event(db_system: JobSystem, db: Database):
    before = await counts(db)
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            await create_company(session, spec("gone"))
            await session.flush()
            raise RuntimeError("the request failed after the change and its event")
    assert await counts(db) == before


async def test_a_failure_writing_the_event_leaves_no_change(db_system: JobSystem, db: Database):
    def refuse_events(session: Session, _context: object, _instances: object) -> None:
        if any(isinstance(row, Event) for row in session.new):
            raise RuntimeError("the event log refused the write")

    before = await counts(db)
    sa_event.listen(Session, "before_flush", refuse_events)
    try:
        with pytest.raises(RuntimeError, match="refused"):
            async with db.session() as session:
                await create_company(session, spec("half"))
    finally:
        sa_event.remove(Session, "before_flush", refuse_events)
    assert await counts(db) == before


async def test_the_dispatcher_hands_each_committed_event_once(db_system: JobSystem, db: Database):
    async with db.session() as session:
        for slug in ("a1", "a2", "a3"):
            await create_company(session, spec(slug))
    sub = Collect("audit-copy", frozenset({"company.created"}))
    dispatcher = Dispatcher(db.sessions)
    dispatcher.register(sub)
    await dispatcher.run_once(LATER)
    await dispatcher.run_once(LATER)  # a second pass (a redelivered job) hands nothing again
    async with db.session() as session:
        ids = (await session.scalars(select(Event.id).order_by(Event.id))).all()
    assert sub.seen == list(ids)


async def test_the_dispatch_job_hands_committed_events_to_the_live_subscriber(
    db_system: JobSystem, db: Database
):
    """Through the outbox, the notification worker's dispatch passes (the first, then the
    follow-up once the events settled) move the live subscriber's cursor past the event, and the
    live channel carries its id."""
    channel = db_system.broker.client("producer", name="events-test")
    listener = channel.pubsub()
    await listener.subscribe(db_system.notifier.channel)
    try:
        async with db.session() as session:
            await create_company(session, spec("live"))
        async with db.session() as session:
            newest = await session.scalar(select(Event.id).order_by(Event.id.desc()).limit(1))
            oldest = await session.scalar(select(Event.id).order_by(Event.id).limit(1))
        assert newest is not None and oldest is not None
        async with running(db_system, "notification"):
            await db_system.relay.wait_idle()
            # The transaction's pass: one per second of recording, named by its first event's.
            first = await db_system.admin.wait_for_job("notification", dispatch_job_id(oldest), 30)
            assert first.state == "completed", first
            # An event too recent for the first pass is left to the follow-up it queued.
            passes = [first]
            while (follow_up := passes[-1].return_value["follow_up"]) is not None:
                passes.append(await db_system.admin.wait_for_job("notification", follow_up, 30))
        assert all(p.state == "completed" for p in passes), passes
        assert sum(p.return_value["delivered"]["live"] for p in passes) >= 1
        async with db.session() as session:
            cursor = await session.get(EventCursor, "live")
        assert cursor is not None and cursor.position == newest
        heard = []
        while (message := await listener.get_message(timeout=5)) is not None:
            if message["type"] == "message":
                heard.append(json.loads(message["data"]))
                if heard[-1].get("id") == newest:
                    break
        assert {"event": "event", "id": newest} in heard
    finally:
        await listener.aclose()
        await channel.aclose()


async def test_a_job_run_again_records_its_event_once(db_system: JobSystem, db: Database):
    """A retried PDF job brings its document row up to date; its document.generated is not
    recorded a second time (same type, job and subject)."""
    params = {"type": "order_sheet", "entity": "order", "entity_id": 4, "job_id": "pdf-4",
              "company_id": 1}  # fmt: skip
    for _ in range(2):
        async with db.session() as session:
            await document_generated(session, 17, params)
    async with db.session() as session:
        found = (await session.scalars(
            select(Event).where(Event.type == "document.generated")
        )).all()  # fmt: skip
    assert len(found) == 1
    assert found[0].actor.job_id == "pdf-4" and found[0].data["document_id"] == 17
