"""Fault tests: a worker killed mid-job, graceful and overdue shutdowns, Redis stopped and
restarted under an idle worker, a worker started before Redis. Nothing may be lost."""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.queue.embedded import EmbeddedServer, free_port
from ils.queue.producer import EnqueueOptions
from tests.conftest import make_settings, probe_registry
from tests.support.processes import IlsProcess
from tests.support.running import Records, running

WORKER = ["worker", "--queues", "oma", "--import", "tests.support.handlers"]
READY = "background job workers active"


@pytest.fixture
async def system(redis_url: str, prefix: str, tmp_path: Path) -> AsyncIterator[JobSystem]:
    settings = make_settings(
        redis_url, prefix, tmp_path,
        env={"ILS_QUEUE_OMA_LOCK_DURATION_MS": "2000", "ILS_QUEUE_OMA_STALLED_INTERVAL_MS": "1000"},
    )  # fmt: skip
    js = JobSystem(settings, probe_registry())
    yield js
    await js.close()


def short_locks(env: dict[str, str]) -> dict[str, str]:
    return env | {
        "ILS_QUEUE_OMA_LOCK_DURATION_MS": "2000",
        "ILS_QUEUE_OMA_STALLED_INTERVAL_MS": "1000",
    }


async def test_kill_9_mid_job_then_another_worker_completes_it_exactly_once(
    system: JobSystem, records: Records, worker_env: dict[str, str]
):
    victim = await IlsProcess(WORKER, short_locks(worker_env)).start()
    try:
        await victim.wait_for_line(READY)
        job = await system.producer.enqueue("oma", "test-probe", {"waitRelease": True})
        assert await records.wait_started(timeout_s=15) == job.job_id
        victim.signal(signal.SIGKILL)
        killed_at = time.time() * 1000
        assert await victim.wait() == -signal.SIGKILL
        assert (await system.admin.get_job("oma", job.job_id)).state == "active"

        async with running(system, "oma"):
            view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)
        assert view.state == "completed"
        assert await records.runs("oma", job.job_id) == 2  # at-least-once: it ran again
        assert await records.effects() == 1  # but its effect happened exactly once
        bound_ms = system.settings.queue("oma").stall_recovery_bound_s * 1000
        assert view.processed_on is not None
        assert view.processed_on - killed_at <= bound_ms + 1_000  # guard 9
        assert (await system.admin.stats(["oma"]))["oma"]["completed"] == 1
    finally:
        await victim.kill()


async def test_sigterm_lets_the_active_job_finish_and_takes_no_new_one(
    system: JobSystem, records: Records, worker_env: dict[str, str]
):
    worker = await IlsProcess(WORKER, worker_env).start()
    try:
        await worker.wait_for_line(READY)
        job = await system.producer.enqueue("oma", "test-probe", {"waitRelease": True})
        await records.wait_started(timeout_s=15)
        worker.signal(signal.SIGTERM)
        # Once the loop stopped taking work, a new job stays waiting.
        late = await system.producer.enqueue("oma", "test-probe", {}, EnqueueOptions(delay_s=0))
        await records.release(job.job_id)
        assert await worker.wait() == 0
        assert (await system.admin.get_job("oma", job.job_id)).state == "completed"
        assert (await system.admin.get_job("oma", late.job_id)).state in {"waiting", "completed"}
        assert "workers stopped" in worker.output
    finally:
        await worker.kill()


async def test_past_the_grace_period_the_worker_exits_and_the_job_is_recovered_later(
    system: JobSystem, records: Records, worker_env: dict[str, str]
):
    env = short_locks(worker_env) | {"ILS_SHUTDOWN_GRACE_S": "0.5"}
    worker = await IlsProcess(WORKER, env).start()
    try:
        await worker.wait_for_line(READY)
        job = await system.producer.enqueue("oma", "test-probe", {"waitRelease": True})
        await records.wait_started(timeout_s=15)
        worker.signal(signal.SIGTERM)
        assert await worker.wait(timeout_s=20) == 0
        assert "grace period of 0.5s over" in worker.output
        async with running(system, "oma"):
            view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)
        assert view.state == "completed"
        assert await records.effects() == 1
    finally:
        await worker.kill()


def _system_on(url: str, prefix: str, tmp_path: Path) -> JobSystem:
    settings = make_settings(url, prefix, tmp_path)
    return JobSystem(settings, probe_registry())


async def test_redis_restarted_while_a_worker_idles(own_server: EmbeddedServer, tmp_path: Path):
    url = own_server.ensure()
    system = _system_on(url, "restart", tmp_path)
    try:
        async with running(system, "oma"):
            first = await system.producer.enqueue("oma", "test-probe", {"tag": "before"})
            assert (await system.admin.wait_for_job("oma", first.job_id, 15)).state == "completed"
            delayed = await system.producer.enqueue(
                "oma", "test-probe", {"tag": "across"}, EnqueueOptions(delay_s=2)
            )
            # Guard 3: waiting on a job's state (not QueueEvents) survives the outage.
            waiter = asyncio.create_task(system.admin.wait_for_job("oma", delayed.job_id, 30))
            await asyncio.to_thread(own_server.stop)
            assert await asyncio.to_thread(own_server.ensure) == url  # same port, same data
            back = time.time() * 1000
            after = await system.producer.enqueue("oma", "test-probe", {"tag": "after"})
            view = await system.admin.wait_for_job("oma", after.job_id, timeout_s=15)
            assert view.state == "completed"
            assert view.processed_on is not None and view.processed_on - back < 10_000
            assert (await waiter).state == "completed"
    finally:
        await system.close()


async def test_a_worker_started_while_redis_is_down_works_once_it_is_back(tmp_path: Path):
    server = EmbeddedServer(tmp_path / "late-redis", port=free_port())
    # The server asks the password it will be started with (generated now, kept in its file).
    url = f"redis://:{server.password()}@127.0.0.1:{server.requested_port}/0"
    system = _system_on(url, "late", tmp_path)
    runtime = system.runtime(("oma",))
    starting = asyncio.create_task(runtime.start())
    try:
        done, _ = await asyncio.wait([starting], timeout=1.5)
        assert not done  # still waiting for Redis, not crashed
        await asyncio.to_thread(server.ensure)
        back = time.time() * 1000
        await asyncio.wait_for(starting, 15)
        job = await system.producer.enqueue("oma", "test-probe", {})
        view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=15)
        assert view.state == "completed"
        assert view.processed_on is not None and view.processed_on - back < 10_000
    finally:
        starting.cancel()
        await runtime.stop()
        await system.close()
        server.stop()
