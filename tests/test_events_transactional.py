"""A transactional subscriber (the webhooks' fan-out is one) on SQLite and PostgreSQL: its writes
commit in the transaction that moves its cursor, a batch at a time — nothing committed without the
cursor's move and no move without the writes, one commit per batch, a failure stopping at the
event that failed, and a pass that lost its lease committing nothing."""

from __future__ import annotations

import contextlib

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.db import Database
from ils.domain.enums import CompanyKind
from ils.domain.models import Company
from ils.domain.models.events import EventCursor
from ils.events.dispatcher import Dispatcher, TransactionalSubscriber
from ils.events.envelope import EventEnvelope
from ils.events.log import EventFilter
from ils.events.replay import replay
from tests.test_events_core import LATER, Collect, write


class Mark(TransactionalSubscriber):
    """Adds one company per event, its slug the event id: a second write for one event would
    break the slug's uniqueness, so exactly once is checked by the database itself."""

    def __init__(self, name: str, bad: set[str] | None = None) -> None:
        self.name = name
        self.bad = bad or set()
        self.calls = 0

    async def handle_in(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        self.calls += 1
        session.add(Company(name="mark", slug=f"ev-{envelope.id}", kind=CompanyKind.lab))
        await session.flush()
        if envelope.id in self.bad:
            raise RuntimeError("receiver down")


async def marked(db: Database) -> set[str]:
    async with db.session() as session:
        slugs = await session.scalars(select(Company.slug).where(Company.slug.like("ev-%")))
        return {slug.removeprefix("ev-") for slug in slugs}


async def cursor(db: Database, name: str) -> EventCursor:
    async with db.session() as session:
        found = await session.get(EventCursor, name)
    assert found is not None
    return found


def count_commits(db: Database) -> list[int]:
    commits = [0]

    def on_commit(_connection: object) -> None:
        commits[0] += 1

    event.listen(db.engine.sync_engine, "commit", on_commit)
    return commits


async def test_writes_and_the_cursor_commit_together_one_commit_a_batch(db: Database):
    ids = await write(db, 6)
    commits = count_commits(db)
    dispatcher = Dispatcher(db.sessions)
    dispatcher.register(Mark("marks"))
    assert (await dispatcher.run_once(LATER))["marks"].delivered == 6
    transactional = commits[0]  # the lease (made, taken), the batch, the release
    assert await marked(db) == set(ids)
    assert (await cursor(db, "marks")).position == ids[-1]
    # The same six events to a subscriber that acts outside the database: a commit per event.
    commits[0] = 0
    plain = Dispatcher(db.sessions)
    plain.register(Collect("plain"))
    await plain.run_once(LATER)
    assert transactional == 4 and commits[0] == 9
    # A second pass finds nothing new: nothing handled twice (the slugs would clash).
    again = Dispatcher(db.sessions)
    again.register(Mark("marks"))
    assert (await again.run_once(LATER))["marks"].delivered == 0


async def test_a_failure_stops_at_its_event_with_nothing_of_it_committed(db: Database):
    ids = await write(db, 5)
    sub = Mark("marks", bad={ids[2]})
    dispatcher = Dispatcher(db.sessions)
    dispatcher.register(sub)
    outcome = (await dispatcher.run_once(LATER))["marks"]
    assert outcome.delivered == 2 and "receiver down" in (outcome.error or "")
    assert await marked(db) == set(ids[:2])
    stopped = await cursor(db, "marks")
    assert stopped.position == ids[1] and "receiver down" in (stopped.last_error or "")
    # The receiver is back: the pass resumes at the failed event, each written once.
    sub.bad.clear()
    assert (await dispatcher.run_once(LATER))["marks"].delivered == 3
    assert await marked(db) == set(ids)
    assert (await cursor(db, "marks")).last_error is None


class StealsTheLease(Mark):
    """Another dispatcher takes the lease while this pass handles its batch."""

    def __init__(self, name: str, dispatcher: Dispatcher) -> None:
        super().__init__(name)
        self.dispatcher = dispatcher

    async def handle_in(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        await super().handle_in(session, envelope)
        self.dispatcher.owner = "someone-else"


async def test_a_pass_that_lost_its_lease_commits_nothing(db: Database):
    ids = await write(db, 3)
    dispatcher = Dispatcher(db.sessions)
    dispatcher.register(StealsTheLease("marks", dispatcher))
    outcome = (await dispatcher.run_once(LATER))["marks"]
    assert outcome.busy and outcome.delivered == 0
    assert await marked(db) == set()
    assert (await cursor(db, "marks")).position < ids[0]


@pytest.mark.parametrize("commit", [True, False])
async def test_a_replay_writes_in_the_callers_transaction(db: Database, commit: bool):
    ids = await write(db, 3)
    sub = Mark("marks")
    with contextlib.nullcontext() if commit else pytest.raises(RuntimeError):
        async with db.session() as session:
            done = await replay(session, sub, EventFilter())
            assert done.delivered == 3
            if not commit:
                raise RuntimeError("the caller rolls back")
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(EventCursor)) == 0
    assert await marked(db) == (set(ids) if commit else set())
