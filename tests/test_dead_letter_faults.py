"""Dead letters under kill -9 of the worker (a worker subprocess of the test's own): killed while
a failure was being recorded, the job is recovered and recorded once; a replay whose worker is
killed mid-job is enqueued once, runs again elsewhere, and has its effect once."""

from __future__ import annotations

import signal
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.queue.producer import EnqueueOptions
from ils.queue.tenancy import PLATFORM
from tests.conftest import make_settings, probe_registry
from tests.support.processes import IlsProcess
from tests.support.running import Records, running
from tests.test_faults import READY, WORKER, short_locks

SHORT_LOCKS = {
    "ILS_QUEUE_OMA_LOCK_DURATION_MS": "2000",
    "ILS_QUEUE_OMA_STALLED_INTERVAL_MS": "1000",
}


@pytest.fixture
async def system(
    redis_url: str, prefix: str, tmp_path: Path, worker_env: dict[str, str]
) -> AsyncIterator[JobSystem]:
    """The test's side, on the worker's database (the var directory's migrated SQLite)."""
    settings = make_settings(redis_url, prefix, tmp_path, env=short_locks({}))
    js = JobSystem(settings, probe_registry())
    yield js
    await js.close()


async def dead_letters(system: JobSystem) -> list[dict]:
    async with system.database.session() as s:
        return list((await system.admin.dead_letters.page(s, PLATFORM))["dead_letters"])


async def test_a_worker_killed_while_recording_a_failure_leaves_exactly_one_dead_letter(
    system: JobSystem, records: Records, worker_env: dict[str, str], tmp_path: Path
):
    victim = await IlsProcess(WORKER, short_locks(worker_env)).start()
    # Another writer holds the database: the victim's recording waits for it, uncommitted.
    busy = sqlite3.connect(tmp_path / "var" / "ils.db", isolation_level=None, timeout=30)
    try:
        await victim.wait_for_line(READY)
        busy.execute("BEGIN IMMEDIATE")
        job = await system.producer.enqueue(
            "oma", "test-probe", {"giveUp": True, "tag": "doomed"}, EnqueueOptions(attempts=3)
        )
        # The probe's last step before giving up is its log line: once that is written, the
        # worker is giving up and recording, blocked on the database.
        logs = f"{records.prefix}:oma:{job.job_id}:logs"
        assert await records.client.blpop([logs], timeout=20) == (logs, "run 1 of doomed")
        victim.signal(signal.SIGKILL)
        assert await victim.wait() == -signal.SIGKILL
    finally:
        busy.rollback()
        busy.close()
        await victim.kill()
    assert (await system.admin.get_job("oma", job.job_id)).state == "active"
    assert await dead_letters(system) == []  # nothing committed

    async with running(system, "oma"):  # stall recovery runs it again; it fails again
        view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)
    assert view.state == "failed" and await records.runs("oma", job.job_id) == 2
    [dead] = await dead_letters(system)
    assert dead["job_id"] == job.job_id and dead["reason"] == "permanent problem"
    assert (await system.dead_letters.recorded("oma", [job.job_id])) == {job.job_id}


async def test_a_replay_whose_worker_is_killed_mid_job_is_enqueued_once_and_done_once(
    system: JobSystem, records: Records, worker_env: dict[str, str]
):
    victim = await IlsProcess(WORKER, short_locks(worker_env)).start()
    try:
        await victim.wait_for_line(READY)
        await records.break_probes()
        data = {"broken": True, "waitRelease": True, "tag": "supplier-down"}
        job = await system.producer.enqueue("oma", "test-probe", data, EnqueueOptions(attempts=1))
        assert (await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)).state == "failed"
        [dead] = await dead_letters(system)  # recorded by the victim before BullMQ failed it
        await records.break_probes(False)
        async with system.database.session() as s:
            replay = await system.admin.dead_letters.replay(s, PLATFORM, dead["id"])
        assert replay.enqueued and replay.job_id == f"dlq-{dead['id']}"
        assert await records.wait_started(timeout_s=20) == replay.job_id  # the victim has it
        victim.signal(signal.SIGKILL)
        assert await victim.wait() == -signal.SIGKILL
    finally:
        await victim.kill()
    async with system.database.session() as s:  # replayed again while its worker is dead
        again = await system.admin.dead_letters.replay(s, PLATFORM, dead["id"])
    assert (again.job_id, again.enqueued) == (replay.job_id, False)

    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", replay.job_id, timeout_s=30)
    assert view.state == "completed"
    assert await records.runs("oma", replay.job_id) == 2  # at least once: it ran again...
    assert await records.effects() == 1  # ...and its effect happened once
    counts = (await system.admin.stats(["oma"]))["oma"]
    assert (counts["completed"], counts["failed"]) == (1, 1)  # the replay, and the original
    [still] = await dead_letters(system)
    assert still["id"] == dead["id"] and still["replayed_as"] == replay.job_id
