"""Issue 16, defect 6: a job's size is capped where it enters (helpers and the producer with a
typed error, the outbox relay with the error kept on the row, a Node producer's job failed once
by the worker), and a queue's failed jobs are bounded by bytes as well as by count and age."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import InvalidJobPayload, PayloadTooLarge
from ils.queue import keys
from ils.queue.dead_letters import DeadLetterFilter
from ils.queue.outbox_row import OutboxRow
from ils.queue.producer import EnqueueOptions, job_options
from tests.conftest import make_settings, probe_registry
from tests.support.running import Records, running

MIB = 1024 * 1024


@pytest.fixture
async def big_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    """Jobs up to 2 MiB; the oma queue keeps 2.5 MiB of failed jobs and runs one job at a time
    (its jobs then fail in the order they were added: the newest are the last added)."""
    env = {
        "ILS_QUEUE_OMA_CONCURRENCY": "1",
        "ILS_MAX_PAYLOAD_BYTES": str(2 * MIB),
        "ILS_QUEUE_OMA_KEEP_FAILED_BYTES": str(5 * MIB // 2),
    }
    js = JobSystem(
        make_settings(redis_url, prefix, tmp_path, env=env), probe_registry(), database=db
    )
    yield js
    await js.close()


async def test_enqueue_refuses_a_payload_over_the_cap_with_a_typed_error(
    db_system: JobSystem,
):
    system = db_system
    assert system.settings.max_payload_bytes == 256 * 1024
    big = {"tag": "x" * (256 * 1024)}
    with pytest.raises(PayloadTooLarge) as caught:
        await system.producer.enqueue("oma", "test-probe", big)
    assert isinstance(caught.value, InvalidJobPayload) and caught.value.fields == ["(payload)"]
    assert "over the limit of 262144" in str(caught.value)
    async with system.database.session() as session:
        with pytest.raises(PayloadTooLarge):
            await system.producer.enqueue("oma", "test-probe", big, session=session)
    assert (await system.admin.stats(["oma"]))["oma"]["waiting"] == 0
    assert await system.outbox.count() == 0
    ok = await system.producer.enqueue("oma", "test-probe", {"tag": "x" * 1000})
    assert ok.mode == "queued"


async def test_the_relay_keeps_an_oversized_row_with_the_reason(db_system: JobSystem):
    system = db_system
    opts = job_options(system.registry.get("oma", "test-probe"), system.settings.queue("oma"), None)
    row = OutboxRow.new("oma", "test-probe", {"tag": "x" * (300 * 1024)}, opts)
    async with system.database.session() as session:
        await system.outbox.write(session, row)
    await system.relay.relay_pending()
    kept = await system.outbox.get(row.id)
    assert kept is not None and kept.relay_attempts == 1
    assert kept.last_error is not None and "over the limit of 262144" in kept.last_error
    assert (await system.admin.stats(["oma"]))["oma"]["waiting"] == 0


async def test_a_node_producers_oversized_job_fails_once_and_its_data_is_freed(
    db_system: JobSystem, records: Records
):
    system = db_system
    queue = system.broker.queues.get("oma")
    job = await queue.add("test-probe", {"tag": "x" * (300 * 1024)}, {"attempts": 3})
    job_id = str(job.id)
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", job_id, timeout_s=20)
    assert view.state == "failed" and view.attempts_made == 1
    assert view.failed_reason is not None and "over the limit of 262144" in view.failed_reason
    assert await records.runs("oma", job_id) == 0
    stored = await system.broker.admin_client.hstrlen(keys.job_hash(queue, job_id), "data")
    assert stored < 4096


async def test_failed_jobs_are_trimmed_to_the_queues_byte_budget(big_system: JobSystem):
    system = big_system
    once = EnqueueOptions(attempts=1)
    ids = []
    for i in range(5):
        payload = {"tag": f"{i}" * MIB, "giveUp": True}
        ids.append((await system.producer.enqueue("oma", "test-probe", payload, once)).job_id)
    async with running(system, "oma") as runtime:
        for job_id in ids:
            assert (await system.admin.wait_for_job("oma", job_id, timeout_s=30)).state == "failed"
        await runtime.failed_budgets["oma"].trim()
    queue = system.broker.queues.get("oma")
    kept = [str(j) for j in await system.broker.admin_client.zrange(keys.failed_set(queue), 0, -1)]
    assert sorted(kept) == sorted(ids[-2:])  # the newest two fit in 2.5 MiB, the others went
    async with system.database.session() as session:
        total, _letters = await system.dead_letters.page(session, DeadLetterFilter(queue="oma"))
    assert total == 5  # every one of them is still a dead letter
