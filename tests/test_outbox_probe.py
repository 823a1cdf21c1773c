"""The relay's probe, on SQLite and PostgreSQL: it reads the outbox through the database's own
driver and answers as the outbox would; a job system whose database engine is not made yet sweeps
without making it until a row is there, then relays rows a crashed process left and purges old
ones as before."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.queue.outbox import Outbox
from ils.queue.outbox_probe import OutboxProbe
from ils.queue.outbox_row import OUTBOX_TABLE, RELAYED_AT, OutboxRow, utcnow
from ils.queue.outbox_table import outbox
from ils.queue.producer import job_options
from tests.conftest import make_settings, probe_registry
from tests.test_outbox import write_rows

DAY = dt.timedelta(days=1)


def test_the_probe_uses_the_tables_names_and_reads_through_its_pending_index():
    assert outbox.name == OUTBOX_TABLE
    assert RELAYED_AT in outbox.c and outbox.c[RELAYED_AT].nullable
    (pending,) = [ix for ix in outbox.indexes if ix.name == "ix_job_outbox_pending"]
    assert pending.columns.keys()[0] == RELAYED_AT


@pytest.fixture
async def lazy_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    """A job system on ``db``'s database through a Database of its own, not used yet: as in a
    worker that has run no job."""
    fresh = Database(db.url, schema=db.schema)
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), probe_registry(), database=fresh)
    yield system
    await system.close()


def row_for(system: JobSystem, tag: str) -> OutboxRow:
    opts = job_options(system.registry.get("oma", "test-probe"), system.settings.queue("oma"), None)
    return OutboxRow.new("oma", "test-probe", {"tag": tag}, opts)


async def mark_relayed(db: Database, system: JobSystem, row: OutboxRow, at: dt.datetime) -> None:
    async with db.session() as session:
        await system.relay.outbox.mark_relayed(session, [row.id], at)


async def test_the_probe_answers_as_the_outbox_would(db: Database, lazy_system: JobSystem):
    probe = OutboxProbe(db.direct)
    now = utcnow()
    assert not await probe.due() and not await probe.due(now)
    row = row_for(lazy_system, "pending")
    await write_rows(db, lazy_system.relay.outbox, [row])
    assert await probe.due()
    await mark_relayed(db, lazy_system, row, now - 2 * DAY)
    assert not await probe.due()  # nothing pending
    assert await probe.due(now - DAY)  # relayed before the cutoff: a purge is due
    assert not await probe.due(now - 3 * DAY)


async def test_a_sweep_with_nothing_to_do_makes_no_engine_and_rows_left_behind_are_relayed(
    db: Database, lazy_system: JobSystem
):
    system = lazy_system
    assert await system.relay.sweeper.sweep() == 0  # the first sweep also checks for a purge
    assert not system.database.built  # SQLAlchemy's engine was not needed
    left, old = row_for(system, "left behind"), row_for(system, "old")
    # A process that died after its commit left these (written through another engine).
    other = Outbox(db.engine, db.sessions)
    await write_rows(db, other, [left, old])
    async with db.session() as session:
        await other.mark_relayed(session, [old.id], utcnow() - 2 * DAY)
    system.relay.sweeper._purged_at = float("-inf")  # a purge is due again
    assert await system.relay.sweeper.sweep() == 1
    assert system.database.built
    jobs = await system.producer.queue("oma").getJobs(["wait"], 0, -1)
    assert [str(job.id) for job in jobs] == [left.id]
    assert await other.get(old.id) is None  # relayed two days ago: purged
    assert await system.relay.sweeper.sweep() == 0  # and now through the engine, as before
