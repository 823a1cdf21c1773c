"""Which company a job belongs to: the producer's stamp (direct, through the outbox on both
databases, or from a Node producer), the per-company index and its pruning, the viewer scope's
filter in the admin layer, and the one masking function field by field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from bullmq import Queue

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import InvalidJobPayload, JobNotFound, PermissionDenied
from ils.queue import keys
from ils.queue.executor import validate_payload
from ils.queue.heartbeat import now_ms
from ils.queue.masking import mask_job
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import MASK
from ils.queue.tenancy import (
    COMPANY_FIELD,
    INDEX_GRACE_MS,
    PLATFORM,
    ViewerScope,
    company_counts,
)
from tests.conftest import make_settings, probe_registry
from tests.support.running import running

A, B = ViewerScope(7), ViewerScope(8)


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aredis.Redis]:
    c = aredis.from_url(redis_url, decode_responses=True)
    yield c
    await c.aclose()


async def raw_data(system: JobSystem, queue: str, job_id: str) -> dict[str, Any]:
    job = await system.admin.browse.queue(queue).getJob(job_id)
    assert job is not None
    return dict(job.data)


async def test_the_producer_stamps_the_callers_or_the_payloads_company(system: JobSystem):
    explicit = await system.producer.enqueue("oma", "test-probe", {}, company_id=7)
    from_payload = await system.producer.enqueue(
        "ai", "anomaly-detection", {"companyId": 8, "metric": "orders"}
    )
    system_work = await system.producer.enqueue("oma", "test-probe", {})
    assert (await raw_data(system, "oma", explicit.job_id))[COMPANY_FIELD] == 7
    assert (await raw_data(system, "ai", from_payload.job_id))[COMPANY_FIELD] == 8
    assert COMPANY_FIELD not in await raw_data(system, "oma", system_work.job_id)
    # Each scope sees its own; the platform sees all; a company never sees system work.
    assert [j.id for j in (await system.admin.browse.jobs("oma", "waiting", scope=A)).jobs] == [
        explicit.job_id
    ]
    assert (await system.admin.browse.jobs("oma", "waiting", scope=B)).total == 0
    assert (await system.admin.browse.jobs("oma", "waiting")).total == 2
    ai = await system.admin.counts("ai", B)
    assert ai["waiting"] + ai["prioritized"] == 1
    detail = await system.admin.browse.detail("oma", explicit.job_id, scope=A)
    assert detail.company_id == 7 and COMPANY_FIELD not in detail.data
    with pytest.raises(JobNotFound):
        await system.admin.browse.detail("oma", system_work.job_id, scope=A)


async def test_a_worker_runs_a_stamped_job_with_the_payload_alone(system: JobSystem):
    # Payloads forbid unknown fields: the stamp must not reach the handler's validation.
    job = await system.producer.enqueue("oma", "test-probe", {"tag": "t"}, company_id=7)
    async with running(system, "oma"):
        done = await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
    assert done.state == "completed" and done.return_value == {"runs": 1, "tag": "t"}
    payload = validate_payload(system.registry.get("oma", "test-probe"), {COMPANY_FIELD: 7})
    assert payload.model_dump()["tag"] == "x"
    with pytest.raises(InvalidJobPayload):  # any other unknown field is still refused
        validate_payload(system.registry.get("oma", "test-probe"), {"ilsCompany": 7})


@pytest.fixture
async def db_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    settings = make_settings(redis_url, prefix, tmp_path)
    js = JobSystem(settings, probe_registry(), database=db)
    yield js
    await js.close()


async def test_a_job_through_the_outbox_keeps_its_company(db_system: JobSystem, db: Database):
    async with db.session() as session:
        job = await db_system.producer.enqueue(
            "oma", "test-probe", {}, company_id=7, session=session
        )
        mine = await db_system.outbox.pending_rows(session, company_id=7)
        assert [(r.id, r.company_id) for r in mine] == [(job.job_id, 7)]
        assert await db_system.outbox.pending_rows(session, company_id=8) == []
        assert await db_system.outbox.count(True, session, company_id=8) == 0
    await db_system.relay.wait_idle()
    row = await db_system.outbox.get(job.job_id)
    assert row is not None and row.company_id == 7 and row.relayed_at is not None
    page = await db_system.admin.browse.jobs("oma", "waiting", scope=A)
    assert [j.id for j in page.jobs] == [job.job_id] and page.jobs[0].company_id == 7
    assert (await db_system.admin.browse.jobs("oma", "waiting", scope=B)).total == 0


async def test_a_node_producers_job_is_its_companys_with_the_stamp_and_the_index(
    system: JobSystem, client: aredis.Redis
):
    # What a Node BullMQ producer does: the reserved field in the data, then ZADD to the index.
    queue = Queue("oma", {"connection": client, "prefix": system.settings.prefix})
    data = {"tag": "from-node", COMPANY_FIELD: 8}
    await client.zadd(keys.company_jobs(system.settings.prefix, "oma", 8), {"n1": now_ms()})
    await queue.add("test-probe", data, {"jobId": "n1"})
    page = await system.admin.browse.jobs("oma", "waiting", scope=B)
    assert [j.id for j in page.jobs] == ["n1"]
    with pytest.raises(JobNotFound):
        await system.admin.browse.detail("oma", "n1", scope=A)


async def test_the_index_is_pruned_of_jobs_bullmq_removed(system: JobSystem, client: aredis.Redis):
    index = keys.company_jobs(system.settings.prefix, "oma", 7)
    kept = await system.producer.enqueue("oma", "test-probe", {}, company_id=7)
    gone = await system.producer.enqueue("oma", "test-probe", {}, company_id=7)
    await system.admin.queue("oma").remove(gone.job_id)  # as BullMQ's retention would
    old = now_ms() - INDEX_GRACE_MS - 1_000
    await client.zadd(index, {"dead-old": old, "being-added": now_ms()})
    counts = await company_counts(system.admin.queue("oma"), 7)
    assert {state: n for state, n in counts.items() if n} == {"waiting": 1}
    members = set(await client.zrange(index, 0, -1))
    # The young entry may be a job being added this moment: it stays until its grace is over.
    assert members == {kept.job_id, gone.job_id, "being-added"}
    await client.zadd(index, {gone.job_id: old})
    await system.admin.counts("oma", A)
    assert gone.job_id not in set(await client.zrange(index, 0, -1))
    # Removing through the admin drops the entry at once.
    await system.admin.actions.remove("oma", kept.job_id, A)
    assert kept.job_id not in set(await client.zrange(index, 0, -1))


async def test_another_companys_job_in_an_index_is_still_not_shown(
    system: JobSystem, client: aredis.Redis
):
    theirs = await system.producer.enqueue("oma", "test-probe", {}, company_id=8)
    # The index is only a shortcut: the job's own stamp decides.
    index = keys.company_jobs(system.settings.prefix, "oma", 7)
    await client.zadd(index, {theirs.job_id: now_ms()})
    assert (await system.admin.browse.jobs("oma", "waiting", scope=A)).jobs == []
    for act in (system.admin.actions.remove, system.admin.actions.promote):
        with pytest.raises(JobNotFound):
            await act("oma", theirs.job_id, A)
    with pytest.raises(JobNotFound):
        await system.admin.get_job("oma", theirs.job_id, A)


async def test_queue_wide_actions_need_the_platform_scope(system: JobSystem):
    for call in (
        system.admin.actions.pause("oma", A),
        system.admin.actions.resume("oma", A),
        system.admin.actions.clean("oma", "completed", 0, A),
        system.admin.actions.set_rate_limit("oma", 5, 1000, A),
        system.admin.actions.set_concurrency("oma", 2, A),
    ):
        with pytest.raises(PermissionDenied, match="platform_admin"):
            await call
    assert not await system.admin.queue("oma").isPaused()
    await system.admin.actions.pause("oma", PLATFORM)
    assert await system.admin.queue("oma").isPaused()


async def test_a_companys_schedules_are_its_own(system: JobSystem):
    q = system.admin.queue("oma")
    await q.upsertJobScheduler(
        "mine", {"every": 60_000}, "test-probe", {"tag": "m", COMPANY_FIELD: 7}
    )
    await q.upsertJobScheduler("system", {"every": 60_000}, "test-probe", {})
    assert [s["id"] for s in await system.admin.schedulers("oma", A)] == ["mine"]
    assert (await system.admin.schedulers("oma", A))[0]["data"] == {"tag": "m"}
    assert await system.admin.schedulers("oma", B) == []
    assert {s["id"] for s in await system.admin.schedulers("oma")} == {"mine", "system"}


def test_masking_covers_every_field_a_job_exposes():
    view = {
        "name": "unknown-type",
        "data": {"patient": "Jane", COMPANY_FIELD: 7},
        "return_value": {"letter": "Dear Jane"},
        "failed_reason": "could not reach Jane",
        "stacktrace": ["Traceback ... Jane", "RuntimeError: Jane"],
        "logs": ["emailing Jane"],
        "progress": {"step": "Jane"},
        "children": [{"key": "k", "done": True, "return_value": "Jane"}, {"key": "p"}],
    }
    masked = mask_job(view, None)
    assert masked["data"] == {"patient": MASK}  # unknown type: all of it, and no stamp
    assert masked["return_value"] == masked["failed_reason"] == masked["progress"] == MASK
    assert masked["stacktrace"] == [MASK, MASK] and masked["logs"] == [MASK]
    assert masked["children"] == [{"key": "k", "done": True, "return_value": MASK}, {"key": "p"}]
    assert "Jane" not in str(masked) and masked["name"] == "unknown-type"
    # Nothing to hide stays as it is: a number of progress, empty or missing values.
    quiet = mask_job({"progress": 40, "failed_reason": None, "logs": [], "return_value": None},
                     None)  # fmt: skip
    assert quiet == {"progress": 40, "failed_reason": None, "logs": [], "return_value": None}


async def test_a_companys_waiting_jobs_are_found_from_either_side(system: JobSystem):
    # Whichever is shorter is walked: the wait list (ids only) or the company's index.
    later = EnqueueOptions(delay_s=3600)
    mine = [await system.producer.enqueue("oma", "test-probe", {}, company_id=7) for _ in range(2)]
    for _ in range(2):
        await system.producer.enqueue("oma", "test-probe", {}, later, company_id=7)

    async def seen() -> tuple[int, set[str], int]:
        page = await system.admin.browse.jobs("oma", "waiting", scope=A)
        counts = await system.admin.counts("oma", A)
        return page.total, {j.id for j in page.jobs}, counts["waiting"]

    expected = (2, {j.job_id for j in mine}, 2)
    assert await seen() == expected  # the wait list (2) is shorter than the index (4)
    for _ in range(5):
        await system.producer.enqueue("oma", "test-probe", {}, company_id=8)
    assert await seen() == expected  # now the index is
    assert (await system.admin.counts("oma", A))["delayed"] == 2
