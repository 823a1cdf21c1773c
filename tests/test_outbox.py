"""The transactional outbox and the ``spool`` fallback, on SQLite and PostgreSQL with a real Redis:
rollback enqueues nothing, commit relays at once, a crash between add and mark adds once, Redis
down during enqueues loses nothing, concurrent relays deliver each row once."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import BrokerUnavailable, ConfigurationError, JobNotFound
from ils.queue.broker import Broker
from ils.queue.embedded import EmbeddedServer, free_port
from ils.queue.outbox import Outbox
from ils.queue.outbox_row import OUTBOX_ID_MAX, OutboxRow, utcnow
from ils.queue.outbox_table import outbox
from ils.queue.producer import EnqueueOptions, Producer, job_options
from ils.queue.relay import OutboxRelay
from ils.queue.settings import Settings
from tests.conftest import make_settings, probe_registry
from tests.support.databases import BACKENDS, open_database
from tests.support.running import Records, running

WAITING = frozenset({"waiting"})


def _system(url: str, prefix: str, tmp_path: Path, db: Database, **env: str) -> JobSystem:
    settings = make_settings(url, prefix, tmp_path, env=env)
    return JobSystem(settings, probe_registry(), database=db)


@pytest.fixture
async def system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    js = _system(redis_url, prefix, tmp_path, db)
    yield js
    await js.close()


@pytest.fixture
async def records(redis_url: str, prefix: str) -> AsyncIterator[Records]:
    r = Records(redis_url, prefix)
    yield r
    await r.close()


def probe_row(system: JobSystem, tag: str) -> OutboxRow:
    """An outbox row for an ``oma`` probe job, as the producer would write it."""
    opts = job_options(system.registry.get("oma", "test-probe"), system.settings.queue("oma"), None)
    return OutboxRow.new("oma", "test-probe", {"tag": tag}, opts)


async def write_rows(db: Database, outbox_: Outbox, rows: list[OutboxRow]) -> None:
    """Rows committed with no relay told of them: what a process that died after its commit
    leaves behind."""
    async with db.session() as session:
        for row in rows:
            await outbox_.write(session, row)


async def waiting_ids(system: JobSystem, queue: str = "oma") -> list[str]:
    jobs = await system.producer.queue(queue).getJobs(["wait"], 0, -1)
    return [str(j.id) for j in jobs]


async def relay_attempts(db: Database) -> int:
    async with db.sessions() as session:
        total = await session.execute(select(func.sum(outbox.c.relay_attempts)))
        return int(total.scalar_one() or 0)


# ---- the transactional path ----------------------------------------------------------------


async def test_a_rolled_back_transaction_enqueues_nothing_ever(system: JobSystem, db: Database):
    with pytest.raises(RuntimeError, match="order refused"):
        async with db.session() as session:
            job = await system.producer.enqueue("oma", "test-probe", {}, session=session)
            assert job.mode == "outbox"
            raise RuntimeError("order refused")
    async with db.sessions() as session:
        await system.producer.enqueue("oma", "test-probe", {}, session=session)
        await session.rollback()
    await system.relay.wait_idle()
    assert await system.relay.relay_pending() == 0
    assert await system.outbox.count() == 0
    with pytest.raises(JobNotFound):
        await system.admin.get_job("oma", job.job_id)
    assert all(n == 0 for n in (await system.admin.stats(["oma"]))["oma"].values())


async def test_a_savepoint_rolled_back_inside_a_committed_transaction_enqueues_only_the_rest(
    system: JobSystem, db: Database
):
    async with db.session() as session:
        kept = await system.producer.enqueue("oma", "test-probe", {"tag": "kept"}, session=session)
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                dropped = await system.producer.enqueue(
                    "oma", "test-probe", {"tag": "dropped"}, session=session
                )
                raise RuntimeError("line item refused")
    await system.relay.wait_idle()
    assert await system.relay.relay_pending() == 0
    assert await waiting_ids(system) == [kept.job_id]
    assert await system.outbox.get(dropped.job_id) is None


async def test_a_batch_writes_its_rows_in_one_statement_at_its_end_and_only_if_it_ends_well(
    system: JobSystem, db: Database
):
    statements: list[str] = []

    def count_outbox_inserts(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("INSERT INTO JOB_OUTBOX"):
            statements.append(statement)

    event.listen(db.sync_engine, "before_cursor_execute", count_outbox_inserts)
    try:
        async with db.session() as session, system.producer.batch(session):
            jobs = [
                await system.producer.enqueue("oma", "test-probe", {"tag": str(i)},
                                              session=session)
                for i in range(4)
            ]  # fmt: skip
            assert await system.outbox.count() == 0  # held back until the block ends
        with pytest.raises(RuntimeError):
            async with db.session() as session, system.producer.batch(session):
                await system.producer.enqueue("oma", "test-probe", {"tag": "no"}, session=session)
                raise RuntimeError("refused")
    finally:
        event.remove(db.sync_engine, "before_cursor_execute", count_outbox_inserts)
    assert len(statements) == 1
    await system.relay.wait_idle()
    assert sorted(await waiting_ids(system)) == sorted(j.job_id for j in jobs)
    assert await system.outbox.count() == 4


async def test_a_commit_relays_the_job_at_once_with_the_outbox_id_and_a_worker_runs_it(
    system: JobSystem, db: Database, records: Records
):
    async with db.session() as session:
        job = await system.producer.enqueue("oma", "test-probe", {"tag": "order"}, session=session)
        with pytest.raises(JobNotFound):  # not before the commit: no Redis call yet
            await system.admin.get_job("oma", job.job_id)
    assert job.mode == "outbox"
    assert uuid.UUID(hex=job.job_id).hex == job.job_id and ":" not in job.job_id
    await system.relay.wait_idle()
    view = await system.admin.get_job("oma", job.job_id)
    assert (view.state, view.name, view.data["tag"]) == ("waiting", "test-probe", "order")
    row = await system.outbox.get(job.job_id)
    assert row is not None and row.relayed_at is not None and row.relay_attempts == 0
    assert await system.outbox.count(pending=True) == 0

    async with running(system, "oma"):
        done = await system.admin.wait_for_job("oma", job.job_id, timeout_s=15)
    assert done.state == "completed"
    assert await records.effects() == 1


async def test_a_caller_job_id_is_the_outbox_id_and_a_second_write_adds_nothing(
    system: JobSystem, db: Database
):
    opts = EnqueueOptions(job_id="order-42-sheet", delay_s=3600)
    for _ in range(2):
        async with db.session() as session:
            job = await system.producer.enqueue("oma", "test-probe", {}, opts, session=session)
        assert job.job_id == "order-42-sheet"
    await system.relay.wait_idle()
    assert await system.outbox.count() == 1
    counts = (await system.admin.stats(["oma"]))["oma"]
    assert counts["delayed"] == 1 and counts["waiting"] == 0  # its delay survived the outbox
    with pytest.raises(ValueError, match="job_id"):
        EnqueueOptions(job_id="x" * (OUTBOX_ID_MAX + 1))


async def test_a_job_id_written_again_is_handed_over_again_unless_it_is_shared(
    system: JobSystem, db: Database
):
    """Each commit hands its job to BullMQ, the outbox row already there or not: a job BullMQ no
    longer keeps comes back (the event log's subscriber relies on it when it hands events over
    again). A ``shared_id`` names a window that many transactions share (the event dispatch's
    pass): a commit that finds its row there joins that row's job and hands over nothing."""
    queue = system.producer.queue("oma")

    async def enqueue(options: EnqueueOptions) -> None:
        async with db.session() as session:
            await system.producer.enqueue("oma", "test-probe", {}, options, session=session)
        await system.relay.wait_idle()

    for shared in (False, True):
        job_id = f"window-{shared}"
        await enqueue(EnqueueOptions(job_id=job_id, shared_id=shared))
        assert await waiting_ids(system) == [job_id]
        await queue.remove(job_id)  # as BullMQ's retention would drop it
        await enqueue(EnqueueOptions(job_id=job_id, shared_id=shared))
        assert await waiting_ids(system) == ([] if shared else [job_id])
        await queue.remove(job_id)
    assert await system.outbox.count() == 2 and await system.outbox.count(pending=True) == 0
    with pytest.raises(ValueError, match="shared_id is about the given job id"):
        EnqueueOptions(shared_id=True)


def test_a_relayed_job_keeps_only_what_is_left_of_its_delay():
    row = OutboxRow.new("oma", "test-probe", {}, {"delay": 60_000, "attempts": 3})
    assert row.options["jobId"] == row.id
    soon = row.job_options(row.created_at + dt.timedelta(seconds=20))
    assert soon["delay"] == 40_000 and soon["jobId"] == row.id and soon["attempts"] == 3
    assert "delay" not in row.job_options(row.created_at + dt.timedelta(minutes=5))


# ---- crashes, outages and concurrency ------------------------------------------------------


class CrashingRelay(OutboxRelay):
    """Dies (once) after BullMQ has the jobs and before their rows are marked relayed."""

    crashes = 1

    async def after_add(self, rows: Any) -> None:
        if self.crashes:
            self.crashes -= 1
            raise RuntimeError("process died between add and mark")


async def test_a_crash_between_add_and_mark_relays_again_and_the_job_runs_once(
    system: JobSystem, db: Database, records: Records, caplog: pytest.LogCaptureFixture
):
    relay = CrashingRelay(system.outbox, system.broker, system.settings)
    producer = Producer(system.settings, system.registry, system.broker, relay=relay)
    try:
        async with db.session() as session:
            job = await producer.enqueue("oma", "test-probe", {"tag": "once"}, session=session)
        await relay.wait_idle()
        assert "process died between add and mark" in caplog.text
        assert (await system.admin.get_job("oma", job.job_id)).state == "waiting"
        row = await system.outbox.get(job.job_id)
        assert row is not None and row.relayed_at is None  # the mark was lost with the process

        assert await relay.relay_pending() == 1
        assert await waiting_ids(system) == [job.job_id]  # added once, not twice
        assert await system.outbox.count(pending=True) == 0
        async with running(system, "oma"):
            done = await system.admin.wait_for_job("oma", job.job_id, timeout_s=15)
        assert done.state == "completed"
        assert await records.runs("oma", job.job_id) == 1
        assert await records.effects() == 1
    finally:
        await relay.stop()


async def test_redis_stopped_during_200_transactional_enqueues_loses_none(
    own_server: EmbeddedServer, tmp_path: Path, db: Database
):
    url = own_server.ensure()
    system = _system(url, "outage", tmp_path, db)
    try:
        ids: list[str] = []
        stopping: asyncio.Task[Any] | None = None
        for i in range(200):
            if i == 50:  # Redis goes away while requests keep coming
                stopping = asyncio.create_task(asyncio.to_thread(own_server.stop))
            if i == 150:
                assert stopping is not None
                await stopping
            async with db.session() as session:
                job = await system.producer.enqueue(
                    "oma", "test-probe", {"tag": f"n{i}"}, session=session
                )
            assert job.mode == "outbox"  # returned, Redis or not
            ids.append(job.job_id)
        await system.relay.wait_idle()
        assert await system.outbox.count(pending=True) >= 50
        assert await relay_attempts(db) >= 1  # the failed relay is recorded on its rows

        assert await asyncio.to_thread(own_server.ensure) == url
        await system.relay.relay_pending()
        assert await system.outbox.count(pending=True) == 0
        assert await system.relay.relay_pending() == 0
        assert (await system.admin.stats(["oma"]))["oma"]["waiting"] == 200
        delivered = await waiting_ids(system)
        assert len(delivered) == 200 and set(delivered) == set(ids)
    finally:
        await system.close()


async def test_two_relays_at_once_deliver_each_row_once(
    system: JobSystem, db: Database, tmp_path: Path
):
    rows = [probe_row(system, f"r{i}") for i in range(300)]
    await write_rows(db, system.outbox, rows)
    # Two processes' relays: engines of their own on the same database.
    other = Database(db.url, schema=db.schema)
    relays = [
        OutboxRelay(Outbox(d.engine), system.broker, system.settings, batch_size=10)
        for d in (db, other)
    ]
    try:
        marked = await asyncio.gather(*(r.relay_pending() for r in relays))
    finally:
        for relay in relays:
            await relay.stop()
        await other.dispose()
    assert sum(marked) == 300  # each row marked relayed by exactly one of them
    assert await system.outbox.count(pending=True) == 0
    delivered = await waiting_ids(system)
    assert len(delivered) == 300 and set(delivered) == {r.id for r in rows}


async def test_a_row_bullmq_refuses_stays_pending_with_its_error_and_holds_up_no_other(
    system: JobSystem, db: Database, caplog: pytest.LogCaptureFixture
):
    refused = OutboxRow.new(
        "oma", "test-probe", {}, {"failParentOnFailure": True, "removeDependencyOnFailure": True}
    )
    good = [probe_row(system, f"g{i}") for i in range(3)]
    await write_rows(db, system.outbox, [refused, *good])
    assert await system.relay.relay_pending() == 3
    assert await system.relay.relay_pending() == 0
    row = await system.outbox.get(refused.id)
    assert row is not None and row.relayed_at is None and row.relay_attempts == 2
    assert row.last_error is not None and "cannot be used together" in row.last_error
    assert "not relayed (attempt 1)" in caplog.text
    assert sorted(await waiting_ids(system)) == sorted(g.id for g in good)


async def test_the_background_sweep_relays_rows_left_behind_and_purges_old_ones(
    system: JobSystem, db: Database
):
    left, old = probe_row(system, "left behind"), probe_row(system, "old")
    await write_rows(db, system.outbox, [left, old])
    async with db.session() as session:
        await system.outbox.mark_relayed(session, [old.id], utcnow() - dt.timedelta(days=2))
    await system.start_background()
    try:
        view = await system.admin.wait_for_job("oma", left.id, timeout_s=15, states=WAITING)
        assert view.data == {"tag": "left behind"}
    finally:
        await system.stop_background()
    assert not system.relay.running
    assert await system.outbox.get(old.id) is None  # relayed 2 days ago: past retention
    relayed = await system.outbox.get(left.id)  # stopping let the sweep finish its batch
    assert relayed is not None and relayed.relayed_at is not None
    assert await system.relay.purge() == 0  # relayed just now: kept for the retention


# ---- the spool fallback --------------------------------------------------------------------


def test_email_pdf_and_notification_spool_by_default(settings: Settings):
    spooling = {q for q, spec in settings.queues.items() if spec.fallback == "spool"}
    assert spooling == {"email", "pdf", "notification"}


def without_spool(settings: Settings) -> Settings:
    queues = {q: s.model_copy(update={"fallback": "raise"}) for q, s in settings.queues.items()}
    return settings.model_copy(update={"queues": queues})


def test_spool_without_a_database_fails_at_start_up(settings: Settings):
    registry = probe_registry()
    with pytest.raises(ConfigurationError, match="ILS_QUEUE_EMAIL_FALLBACK") as err:
        Producer(settings, registry, Broker(settings))
    assert "no database is configured" in str(err.value)
    plain = without_spool(settings)
    Producer(plain, registry, Broker(plain))  # no spooling queue: no outbox needed


async def test_enqueue_with_a_session_needs_an_outbox(settings: Settings, db: Database):
    plain = without_spool(settings)
    producer = Producer(plain, probe_registry(), Broker(plain))
    async with db.sessions() as session:
        with pytest.raises(ConfigurationError, match="needs the outbox"):
            await producer.enqueue("oma", "test-probe", {}, session=session)


async def test_spool_keeps_a_direct_enqueue_while_redis_is_down_and_delivers_it_later(
    own_server: EmbeddedServer, tmp_path: Path, db: Database, caplog: pytest.LogCaptureFixture
):
    url = own_server.ensure()
    system = _system(url, "spool", tmp_path, db, ILS_QUEUE_OMA_FALLBACK="spool")
    records = Records(url, "spool")
    try:
        await asyncio.to_thread(own_server.stop)
        caplog.set_level(logging.WARNING)
        job = await system.producer.enqueue("oma", "test-probe", {"tag": "spooled"})
        mail = await system.producer.enqueue(
            "email", "generic", {"to": ["a@example.com"], "subject": "s", "text": "t"}
        )
        assert (job.mode, mail.mode) == ("spooled", "spooled")
        assert "spooled oma/test-probe" in caplog.text

        assert await system.relay.relay_pending() == 0  # still down: it waits, attempt recorded
        row = await system.outbox.get(job.job_id)
        assert row is not None and row.relayed_at is None
        assert row.relay_attempts == 1 and row.last_error
        assert "outbox relay: Redis at" in caplog.text

        await asyncio.to_thread(own_server.ensure)
        assert await system.relay.relay_pending() == 2
        assert (await system.admin.get_job("email", mail.job_id)).data["subject"] == "s"
        async with running(system, "oma"):
            done = await system.admin.wait_for_job("oma", job.job_id, timeout_s=15)
        assert done.state == "completed"
        assert await records.effects() == 1
    finally:
        await records.close()
        await system.close()


@pytest.mark.parametrize("backend", BACKENDS)
async def test_spooling_into_a_database_without_the_outbox_table_raises_without_the_payload(
    backend: str, tmp_path: Path
):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    async for bare in open_database(backend, tmp_path, create=False):
        system = _system(url, "bare", tmp_path, bare)
        try:
            with pytest.raises(BrokerUnavailable, match="spooling it to the outbox failed") as err:
                await system.producer.enqueue(
                    "email", "generic", {"to": ["p@example.com"], "subject": "s", "text": "Rx"}
                )
            assert "p@example.com" not in str(err.value)
            assert "p@example.com" not in str(err.value.__cause__)
        finally:
            await system.close()


async def test_with_a_session_and_redis_down_the_request_still_commits(
    own_server: EmbeddedServer, tmp_path: Path, db: Database
):
    url = own_server.ensure()
    system = _system(url, "down", tmp_path, db)
    try:
        await asyncio.to_thread(own_server.stop)
        async with db.session() as session:
            job = await system.producer.enqueue("oma", "test-probe", {}, session=session)
        await system.relay.wait_idle()
        row = await system.outbox.get(job.job_id)
        assert row is not None and row.relayed_at is None and row.relay_attempts == 1
        await asyncio.to_thread(own_server.ensure)
        assert await system.relay.relay_pending() == 1
        assert await waiting_ids(system) == [job.job_id]
    finally:
        await system.close()
