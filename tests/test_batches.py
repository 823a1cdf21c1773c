"""Batches on a real Redis: many jobs, one callback that runs once when the last of them ended
(failed ones included, and counted), progress per state by batch id within the viewer's scope,
and the callback still once when the worker running the batch is killed with SIGKILL mid-way."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.errors import ConfigurationError, JobNotFound
from ils.queue.flows import send_batch
from ils.queue.tenancy import ViewerScope
from tests.conftest import make_settings, probe_registry
from tests.support.batch_trace import unaccounted_children
from tests.support.processes import IlsProcess
from tests.support.running import Records, running
from tests.test_flows import PARENT, PROBE

WORKER = ["worker", "--queues", "oma", "--import", "tests.support.handlers"]
READY = "background job workers active"
# The killed worker's locks are short, so its jobs are recovered soon after the kill; the
# survivor checks for stalled jobs often but keeps the usual lock: with a 2 s lock of its own, an
# event loop held up longer than that on a loaded machine loses its locks, its jobs are taken as
# stalled twice and failed ("job stalled more than allowable limit") though they ran.
SHORT_LOCKS = {
    "ILS_QUEUE_OMA_LOCK_DURATION_MS": "2000",
    "ILS_QUEUE_OMA_STALLED_INTERVAL_MS": "1000",
}
OFTEN_CHECKED = {"ILS_QUEUE_OMA_STALLED_INTERVAL_MS": "1000"}


@pytest.fixture
async def system(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[JobSystem]:
    settings = make_settings(redis_url, prefix, tmp_path, env=OFTEN_CHECKED)
    js = JobSystem(settings, probe_registry())
    yield js
    await js.close()


async def test_the_callback_runs_once_after_the_last_job_and_counts_the_failed_ones(
    system: JobSystem, records: Records
):
    jobs = [PROBE.step(tag=f"j{i}", give_up=i % 7 == 0) for i in range(20)]
    sent = await send_batch(PARENT.step(tag="batch"), jobs, producer=system.producer)
    before = await system.admin.batches.get(sent.job_id)
    assert (before.total, before.done, before.callback_state) == (20, False, "waiting-children")
    assert before.counts == {"completed": 0, "failed": 0, "pending": 20, "waiting": 20,
                             "active": 0, "delayed": 0, "waiting-children": 0}  # fmt: skip
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", sent.job_id, timeout_s=30)
    assert view.state == "completed"
    assert await records.runs("oma", sent.job_id) == 1
    assert view.return_value["counts"] == {"completed": 17, "failed": 3, "pending": 0}
    assert (await records.order())[-1] == "oma:batch"
    after = await system.admin.batches.get(sent.job_id)
    assert (after.done, after.callback_state, after.callback, after.queue) == (
        True, "completed", "test-parent", "oma"
    )  # fmt: skip
    assert (after.counts["completed"], after.counts["failed"], after.counts["pending"]) == (
        17, 3, 0
    )  # fmt: skip


async def test_a_batch_is_seen_in_its_companys_scope_only(system: JobSystem):
    sent = await send_batch(
        PARENT.step(tag="batch"), [PROBE.step(tag="a")], company_id=4, producer=system.producer
    )
    assert (await system.admin.batches.get(sent.job_id, ViewerScope(4))).company_id == 4
    with pytest.raises(JobNotFound):
        await system.admin.batches.get(sent.job_id, ViewerScope(5))
    with pytest.raises(JobNotFound):
        await system.admin.batches.get("no-such-batch")
    # an ordinary job is no batch
    plain = await system.producer.enqueue("oma", "test-probe", {})
    with pytest.raises(JobNotFound):
        await system.admin.batches.get(plain.job_id)


async def test_a_batch_needs_jobs_and_a_childless_callback(system: JobSystem):
    with pytest.raises(ConfigurationError, match="1 to"):
        await send_batch(PARENT.step(), [], producer=system.producer)
    with pytest.raises(ConfigurationError, match="no children"):
        callback = PARENT.step().after(PROBE.step())
        await send_batch(callback, [PROBE.step()], producer=system.producer)


async def test_the_callback_runs_once_when_the_worker_is_killed_mid_batch(
    system: JobSystem, records: Records, worker_env: dict[str, str]
):
    victim = await IlsProcess(WORKER, worker_env | SHORT_LOCKS).start()
    try:
        await victim.wait_for_line(READY)
        jobs = [PROBE.step(tag=f"j{i}") for i in range(30)]
        jobs[12] = PROBE.step(tag="held", wait_release=True)
        sent = await send_batch(PARENT.step(tag="batch"), jobs, producer=system.producer)
        held = await records.wait_started(timeout_s=30)
        assert held == f"{sent.job_id}-12"
        victim.signal(signal.SIGKILL)
        assert await victim.wait() == -signal.SIGKILL
        mid = await system.admin.batches.get(sent.job_id)
        assert not mid.done and mid.counts["pending"] >= 1
        assert await records.runs("oma", sent.job_id) == 0

        async with running(system, "oma"):
            view = await system.admin.wait_for_job("oma", sent.job_id, timeout_s=60)
        assert view.state == "completed"
        assert await records.runs("oma", sent.job_id) == 1  # the callback: exactly once
        assert await records.runs("oma", held) == 2  # the held job ran again after the kill
        counts = view.return_value["counts"]
        assert counts == {"completed": 30, "failed": 0, "pending": 0}, await unaccounted_children(
            system.admin.queue("oma"), sent.job_id, 30
        )
        assert await records.effects() == 30
    finally:
        await victim.kill()
