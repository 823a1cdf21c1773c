"""Issue 16, defect 3: a killed embedded server is started again by the processes that use it, on
the same port and password, with its data; workers resume and no job is lost. Each test runs a
server of its own on a free port (never the machine's Redis)."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.queue.embedded import EmbeddedServer, free_port
from ils.settings import load_settings
from tests.conftest import probe_registry
from tests.support.running import Records, running


@pytest.fixture
async def embedded_system(tmp_path: Path) -> AsyncIterator[JobSystem]:
    env = {
        "ILS_VAR_DIR": str(tmp_path / "var"),
        "ILS_EMBEDDED_PORT": str(free_port()),
        "ILS_HEARTBEAT_INTERVAL_S": "1",
        "ILS_SHUTDOWN_GRACE_S": "10",
    }
    js = JobSystem(load_settings(env), probe_registry())
    try:
        yield js
    finally:
        await js.close()
        EmbeddedServer(js.settings.redis_dir).stop()


async def test_a_killed_embedded_server_is_restarted_and_no_job_is_lost(
    embedded_system: JobSystem,
):
    system = embedded_system
    watch = system.broker.start_watch()
    assert watch is not None
    server = EmbeddedServer(system.settings.redis_dir)
    before = server.status()
    assert before is not None
    records = Records(system.broker.url, system.settings.prefix)
    try:
        ids = [
            (
                await system.producer.enqueue("oma", "test-probe", {"tag": f"{i}", "blockS": 0.05})
            ).job_id
            for i in range(20)
        ]
        async with running(system, "oma"):
            await system.admin.wait_for_job("oma", ids[2], timeout_s=20)
            os.kill(before.pid, signal.SIGKILL)  # mid-way: some done, one running, the rest waiting
            await asyncio.wait_for(watch.restarted.wait(), timeout=30)
            after = server.status()
            assert after is not None and after.pid != before.pid
            assert after.url == before.url  # same port and password: every client reconnects
            views = [await system.admin.wait_for_job("oma", j, timeout_s=60) for j in ids]
        assert [v.state for v in views] == ["completed"] * len(ids)
        assert await records.effects() == len(ids)
        assert watch.restarts == 1
    finally:
        await records.close()


async def test_a_server_stopped_on_purpose_is_left_stopped(embedded_system: JobSystem):
    system = embedded_system
    watch = system.broker.start_watch()
    assert watch is not None
    server = EmbeddedServer(system.settings.redis_dir)
    assert await asyncio.to_thread(server.stop) is True
    assert await watch.check() is False
    assert server.status() is None
