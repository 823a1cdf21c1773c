"""Bulk enqueue (``Producer.enqueue_many``, ``JobDef.send_many``, ``Helper.many``) and the outbox
relay's bulk publish: order kept, each job the one a single enqueue makes (options, company,
dedup), one bad payload enqueues nothing, one outbox statement in the caller's transaction, the
fallback policies for a whole bulk, and nothing lost when Redis stops mid-bulk or mid-relay."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import event

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import BrokerUnavailable, InvalidJobPayload
from ils.queue import add_bound, engine_add, producer_bulk
from ils.queue.embedded import EmbeddedServer, free_port
from ils.queue.outbox_row import OutboxRow
from ils.queue.producer import EnqueueOptions, job_options
from ils.queue.relay import OutboxRelay
from ils.queue.tenancy import COMPANY_FIELD, ViewerScope
from tests.conftest import make_settings, probe_registry
from tests.support.handlers import PROBES

OMA_PROBE = next(p for p in PROBES if p.job_type.queue == "oma")


async def waiting_ids(system: JobSystem, queue: str = "oma") -> list[str]:
    jobs = await system.producer.queue(queue).getJobs(["wait"], 0, -1)
    return [str(j.id) for j in jobs]


async def test_a_bulk_keeps_the_order_and_adds_each_job(system: JobSystem):
    tags = [f"t{i}" for i in range(250)]
    done = await system.producer.enqueue_many("oma", "test-probe", [{"tag": t} for t in tags])
    assert [d.mode for d in done] == ["queued"] * len(tags)
    assert len({d.job_id for d in done}) == len(tags)
    queue = system.producer.queue("oma")
    stored = [await queue.getJob(d.job_id) for d in done]
    assert [j.data["tag"] for j in stored] == tags
    assert list(reversed(await waiting_ids(system))) == [d.job_id for d in done]  # FIFO order


async def test_each_job_has_the_options_a_single_enqueue_gives_it(system: JobSystem):
    cases = [
        EnqueueOptions(priority=3, attempts=4),
        EnqueueOptions(delay_s=60),
        None,
        EnqueueOptions(attempts=7),
    ]
    single = [
        await system.producer.enqueue(
            "oma", "test-probe", {"tag": "one"}, (o or EnqueueOptions()).model_copy(
                update={"job_id": f"single-{i}"})
        )
        for i, o in enumerate(cases)
    ]  # fmt: skip
    bulk = await system.producer.enqueue_many(
        "oma", "test-probe", [{"tag": "one"}] * len(cases),
        [(o or EnqueueOptions()).model_copy(update={"job_id": f"bulk-{i}"})
         for i, o in enumerate(cases)],
    )  # fmt: skip
    assert [b.job_id for b in bulk] == [f"bulk-{i}" for i in range(len(cases))]
    queue = system.producer.queue("oma")
    for one, many in zip(single, bulk, strict=True):
        a, b = await queue.getJob(one.job_id), await queue.getJob(many.job_id)
        assert (a.opts.pop("jobId"), b.opts.pop("jobId")) == (one.job_id, many.job_id)
        assert (a.opts, a.data, a.priority, a.delay) == (b.opts, b.data, b.priority, b.delay)
        assert await queue.getJobState(one.job_id) == await queue.getJobState(many.job_id)
    states = [await queue.getJobState(b.job_id) for b in bulk]
    assert states == ["prioritized", "delayed", "waiting", "waiting"]


async def test_a_repeated_job_id_or_dedup_key_is_one_job_within_and_across_bulks(
    system: JobSystem,
):
    same = EnqueueOptions(job_id="only-one")
    first = await system.producer.enqueue_many(
        "oma", "test-probe", [{"tag": "a"}, {"tag": "b"}], [same, same]
    )
    again = await system.producer.enqueue_many("oma", "test-probe", [{"tag": "c"}], same)
    assert {d.job_id for d in first + again} == {"only-one"}
    assert await waiting_ids(system) == ["only-one"]
    assert (await system.producer.queue("oma").getJob("only-one")).data["tag"] == "a"

    dedup = EnqueueOptions(dedup_key="digest-7", dedup_ttl_s=60)
    one = await system.producer.enqueue_many("pdf", "test-probe", [{}, {}], dedup)
    two = await system.producer.enqueue_many("pdf", "test-probe", [{}], dedup)
    assert one[0].job_id == one[1].job_id == two[0].job_id
    assert len(await waiting_ids(system, "pdf")) == 1


async def test_the_jobs_are_their_companys_as_single_enqueues_are(system: JobSystem):
    done = await system.producer.enqueue_many(
        "oma", "test-probe", [{"tag": "x"}, {"tag": "y"}], company_id=5
    )
    alone = await system.producer.enqueue("oma", "test-probe", {"tag": "z"}, company_id=5)
    queue = system.producer.queue("oma")
    for d in done:
        assert (await queue.getJob(d.job_id)).data[COMPANY_FIELD] == 5
    mine = await system.admin.browse.jobs("oma", "waiting", scope=ViewerScope(company_id=5))
    assert {j.id for j in mine.jobs} == {done[0].job_id, done[1].job_id, alone.job_id}
    theirs = await system.admin.browse.jobs("oma", "waiting", scope=ViewerScope(company_id=6))
    assert theirs.jobs == []


async def test_one_bad_payload_names_its_index_and_field_and_enqueues_nothing(
    system: JobSystem,
):
    with pytest.raises(InvalidJobPayload) as err:
        await system.producer.enqueue_many(
            "oma", "test-probe", [{"tag": "ok"}, {"tag": "ok"}, {"fail_times": "many"}]
        )
    assert err.value.fields == ["[2].failTimes"] or err.value.fields == ["[2].fail_times"]
    with pytest.raises(InvalidJobPayload, match="2 options for 3 payloads"):
        await system.producer.enqueue_many("oma", "test-probe", [{}, {}, {}], [None, None])
    assert await waiting_ids(system) == []


async def test_the_declared_forms_send_many_and_helper_many(system: JobSystem):
    sent = await OMA_PROBE.send_many([{"tag": "a"}, {"tag": "b"}], producer=system.producer)
    helper = OMA_PROBE.helper.using(producer=system.producer, company_id=3).preset(tag="p")
    many = await helper.many([{"fail_times": 0}, {"fail_times": 1}])
    queue = system.producer.queue("oma")
    assert [(await queue.getJob(s.job_id)).data["tag"] for s in sent] == ["a", "b"]
    data = [(await queue.getJob(m.job_id)).data for m in many]
    seen = [(d["tag"], d["failTimes"], d[COMPANY_FIELD]) for d in data]
    assert seen == [("p", 0, 3), ("p", 1, 3)]
    with pytest.raises(TypeError, match="sets tag itself"):
        await helper.many([{"tag": "q"}])


async def test_with_a_session_the_bulk_is_one_insert_relayed_after_commit(
    db_system: JobSystem, db: Database
):
    inserts: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *rest: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO") and "job_outbox" in statement:
            inserts.append(statement)

    event.listen(db.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with db.session() as session:
            done = await db_system.producer.enqueue_many(
                "oma", "test-probe", [{"tag": f"s{i}"} for i in range(40)], session=session
            )
            assert {d.mode for d in done} == {"outbox"}
            assert await waiting_ids(db_system) == []  # nothing before the commit
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", count)
    assert len(inserts) == 1
    await db_system.relay.wait_idle()
    assert sorted(await waiting_ids(db_system)) == sorted(d.job_id for d in done)


@pytest.fixture
async def offline(tmp_path: Path) -> AsyncIterator[JobSystem]:
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    env = {"ILS_QUEUE_EMAIL_FALLBACK": "inline"}
    js = JobSystem(make_settings(url, "offline", tmp_path, env=env), probe_registry())
    yield js
    await js.close()


async def test_without_redis_the_policy_applies_to_the_whole_bulk(offline: JobSystem):
    ran: list[str] = []
    offline.registry.set_handler("email", "test-probe", lambda p, ctx: ran.append(p.tag) or "ok")
    done = await offline.producer.enqueue_many("email", "test-probe", [{"tag": "a"}, {"tag": "b"}])
    assert [(d.mode, d.result) for d in done] == [("inline", "ok"), ("inline", "ok")]
    assert ran == ["a", "b"]
    with pytest.raises(BrokerUnavailable, match=r"2 jobs of ai/test-probe \(0 were added\)"):
        await offline.producer.enqueue_many("ai", "test-probe", [{}, {}])


def stop_after_chunks(
    monkeypatch: pytest.MonkeyPatch, server: EmbeddedServer, chunks: int
) -> list[int]:
    """Make each bulk add in chunks of 200, two in flight, and stop ``server`` (for real) as the
    chunk after ``chunks`` of them is built; the returned list counts the chunks built."""
    monkeypatch.setattr(producer_bulk, "CHUNK", 200)
    monkeypatch.setattr(producer_bulk, "IN_FLIGHT", 2)
    tried: list[int] = []
    commands_of = engine_add.EngineAdder.commands_of

    def counted(self: engine_add.EngineAdder, jobs: Any) -> Any:
        tried.append(len(jobs))
        if len(tried) == chunks + 1:
            server.stop()
        return commands_of(self, jobs)

    monkeypatch.setattr(engine_add.EngineAdder, "commands_of", counted)
    return tried


async def test_redis_stopping_mid_bulk_loses_nothing_and_adds_each_job_once(
    own_server: EmbeddedServer, tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
):
    url = own_server.ensure()
    settings = make_settings(url, "midbulk", tmp_path, env={"ILS_QUEUE_OMA_FALLBACK": "spool"})
    system = JobSystem(settings, probe_registry(), database=db)
    try:
        tried = stop_after_chunks(monkeypatch, own_server, chunks=3)
        payloads = [{"tag": f"m{i}"} for i in range(2_000)]
        done = await system.producer.enqueue_many("oma", "test-probe", payloads)
        # The server stopped as the fourth chunk was built, two chunks in flight: the third may
        # have been answered before it stopped, or not. Each chunk is wholly queued or wholly
        # spooled, the first two queued, every job one or the other.
        assert len(tried) >= 4
        modes = [d.mode for d in done]
        chunks = [set(modes[i : i + 200]) for i in range(0, 2_000, 200)]
        assert all(len(c) == 1 for c in chunks) and chunks[:2] == [{"queued"}] * 2
        queued = modes.count("queued")
        assert 400 <= queued <= 600 and queued + modes.count("spooled") == 2_000
        await asyncio.to_thread(own_server.ensure)
        assert await system.relay.relay_pending() == 2_000 - queued
        waiting = await waiting_ids(system)
        assert len(waiting) == 2_000 and set(waiting) == {d.job_id for d in done}
        queue = system.producer.queue("oma")
        assert (await queue.getJob(done[-1].job_id)).data["tag"] == "m1999"
    finally:
        await system.close()


async def test_redis_stopping_mid_relay_loses_nothing_and_adds_each_row_once(
    own_server: EmbeddedServer, tmp_path: Path, db: Database
):
    url = own_server.ensure()
    settings = make_settings(url, "midrelay", tmp_path)
    system = JobSystem(settings, probe_registry(), database=db)
    opts = job_options(system.registry.get("oma", "test-probe"), settings.queue("oma"), None)
    rows = [OutboxRow.new("oma", "test-probe", {"tag": f"r{i}"}, opts) for i in range(500)]
    await system.outbox.spool_many(rows)

    class Stopping(OutboxRelay):
        batches = 0

        async def after_add(self, added: Any) -> None:
            self.batches += 1
            if self.batches == 2:  # two batches in BullMQ: the server goes, the rest waits
                await asyncio.to_thread(own_server.stop)

    relay = Stopping(system.outbox, system.broker, settings, batch_size=100)
    try:
        assert await relay.relay_pending() == 200
        assert await system.outbox.count(pending=True) == 300
        await asyncio.to_thread(own_server.ensure)
        assert await relay.relay_pending() == 300
        waiting = await waiting_ids(system)
        assert len(waiting) == 500 and set(waiting) == {r.id for r in rows}
    finally:
        await relay.stop()
        await system.close()


async def test_adds_redis_does_not_answer_in_time_are_spooled_not_lost(
    own_server: EmbeddedServer, tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
):
    """The adds' client sets no timer per write or reply; each add or pipeline as a whole is
    bounded. A server that holds every write (CLIENT PAUSE) past the bound: the bulk and single
    adds are spooled, the connection is dropped (no late reply read by the next add), and
    nothing is added twice."""
    url = own_server.ensure()
    settings = make_settings(url, "bulkbound", tmp_path, env={"ILS_QUEUE_OMA_FALLBACK": "spool"})
    system = JobSystem(settings, probe_registry(), database=db)
    admin = redis.Redis.from_url(url)
    bounds: list[int] = []

    def short(commands: int) -> float:
        bounds.append(commands)
        return 0.2

    try:
        await system.producer.enqueue_many("oma", "test-probe", [{"tag": "warm"}])
        monkeypatch.setattr(add_bound, "pipeline_timeout", short)
        await asyncio.to_thread(admin.execute_command, "CLIENT", "PAUSE", 10_000, "WRITE")
        try:
            held = await system.producer.enqueue_many(
                "oma", "test-probe", [{"tag": f"h{i}"} for i in range(40)]
            )
            alone = await system.producer.enqueue("oma", "test-probe", {"tag": "alone"})
            owned = await system.producer.enqueue("oma", "test-probe", {"tag": "own"}, company_id=3)
        finally:
            await asyncio.to_thread(admin.execute_command, "CLIENT", "UNPAUSE")
        assert bounds and {d.mode for d in [*held, alone, owned]} == {"spooled"}
        monkeypatch.undo()
        after = await system.producer.enqueue_many(
            "oma", "test-probe", [{"tag": f"a{i}"} for i in range(40)]
        )
        assert {d.mode for d in after} == {"queued"}
        assert await system.relay.relay_pending() == 42
        waiting = await waiting_ids(system)
        expected = {d.job_id for d in [*held, alone, owned, *after]}
        assert len(waiting) == 83 and expected <= set(waiting)
    finally:
        admin.close()
        await system.close()


@pytest.mark.parametrize(
    ("count", "size"), [(1, 50), (100, 50), (300, 100), (500, 167), (750, 250), (10_000, 250)]
)
def test_a_bulk_fills_the_chunks_in_flight_within_the_bounds(count: int, size: int):
    assert (producer_bulk.IN_FLIGHT, producer_bulk.CHUNK, producer_bulk.MIN_CHUNK) == (3, 250, 50)
    assert producer_bulk.chunk_size(count) == size


async def test_a_bulk_of_500_goes_in_three_chunks_in_order(
    system: JobSystem, monkeypatch: pytest.MonkeyPatch
):
    sizes: list[int] = []
    commands_of = engine_add.EngineAdder.commands_of

    def counted(self: engine_add.EngineAdder, jobs: Any) -> Any:
        sizes.append(len(jobs))
        return commands_of(self, jobs)

    monkeypatch.setattr(engine_add.EngineAdder, "commands_of", counted)
    payloads = [{"tag": f"c{i}"} for i in range(500)]
    done = await system.producer.enqueue_many("oma", "test-probe", payloads)
    assert sizes == [167, 167, 166] and {d.mode for d in done} == {"queued"}
    # One connection, chunks run as sent: the queue has the bulk's jobs in its order.
    assert list(reversed(await waiting_ids(system))) == [d.job_id for d in done]


async def test_a_bulk_cancelled_mid_stream_leaves_no_answer_for_the_next(
    system: JobSystem, monkeypatch: pytest.MonkeyPatch
):
    """Cancelled with chunks sent and their answers unread (a request that goes away), the
    stream's connection is dropped: the next bulk on the same client reads its own answers."""
    built = 0
    commands_of = engine_add.EngineAdder.commands_of
    task: asyncio.Task[Any] | None = None

    def counted(self: engine_add.EngineAdder, jobs: Any) -> Any:
        nonlocal built
        built += 1
        if built == 3 and task is not None:  # two chunks sent, none of their answers read
            task.cancel()
        return commands_of(self, jobs)

    monkeypatch.setattr(engine_add.EngineAdder, "commands_of", counted)
    payloads = [{"tag": f"x{i}"} for i in range(750)]
    task = asyncio.ensure_future(system.producer.enqueue_many("oma", "test-probe", payloads))
    with pytest.raises(asyncio.CancelledError):
        await task
    monkeypatch.undo()
    after = await system.producer.enqueue_many(
        "oma", "test-probe", [{"tag": f"y{i}"} for i in range(300)]
    )
    assert {d.mode for d in after} == {"queued"}
    queue = system.producer.queue("oma")
    stored = [await queue.getJob(d.job_id) for d in after]
    assert [j.data["tag"] for j in stored] == [f"y{i}" for i in range(300)]


async def test_a_first_bulk_to_a_server_that_holds_its_commands_is_spooled_in_time(
    own_server: EmbeddedServer, tmp_path: Path, db: Database, monkeypatch: pytest.MonkeyPatch
):
    """Before its first bulk an adder loads the scripts: that too is bounded (the adds' client
    sets no timeout of its own), so a server holding every write from the start spools the bulk
    instead of hanging it (``SCRIPT LOAD`` is held only when every command is: ``ALL``)."""
    url = own_server.ensure()
    settings = make_settings(url, "firstbulk", tmp_path, env={"ILS_QUEUE_OMA_FALLBACK": "spool"})
    system = JobSystem(settings, probe_registry(), database=db)
    admin = redis.Redis.from_url(url)
    monkeypatch.setattr(add_bound, "pipeline_timeout", lambda commands: 0.2)
    try:
        await asyncio.to_thread(admin.execute_command, "CLIENT", "PAUSE", 1_500, "ALL")
        held = await system.producer.enqueue_many(
            "oma", "test-probe", [{"tag": f"f{i}"} for i in range(10)]
        )
        await asyncio.to_thread(admin.ping)  # answered when the pause ends
        assert {d.mode for d in held} == {"spooled"}
        monkeypatch.undo()
        assert await system.relay.relay_pending() == 10
        assert sorted(await waiting_ids(system)) == sorted(d.job_id for d in held)
    finally:
        admin.close()
        await system.close()
