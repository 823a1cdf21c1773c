"""The web comes first: workers running beside the web stop taking jobs while the event loop
lags past the pause level and take them again once it is calm; the levels are validated."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.errors import ConfigurationError
from ils.queue.loadguard import LagBackoff, LoopLagMonitor
from tests.conftest import make_settings
from tests.support.lag import lagging_loop, wait_paused, wait_samples
from tests.support.running import running


async def test_workers_stop_taking_jobs_while_the_loop_lags_and_resume_after(system: JobSystem):
    monitor = LoopLagMonitor()
    monitor.start()
    try:
        async with running(system, "oma", lag_monitor=monitor) as runtime:
            backoff = runtime.backoff
            assert backoff is not None
            await wait_paused(backoff, False)  # a busy machine may have stalled the start-up
            before = backoff.pauses
            worker = runtime.workers["oma"]
            with lagging_loop():
                await wait_paused(backoff, True)
                assert worker.paused and backoff.pauses == before + 1
                job = await system.producer.enqueue("oma", "test-probe", {"tag": "late"})
                # A second of lagging samples later the job is still waiting: not taken.
                await wait_samples(monitor, 20)
                assert backoff.paused
                view = await system.admin.get_job("oma", job.job_id)
                assert view is not None and view.state == "waiting", view
            await wait_paused(backoff, False)
            assert not worker.paused
            done = await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
            assert done.state == "completed"
    finally:
        await monitor.stop()


async def test_a_worker_restarted_while_the_loop_lags_starts_paused(system: JobSystem):
    monitor = LoopLagMonitor()
    monitor.start()
    try:
        async with running(system, "oma", lag_monitor=monitor) as runtime:
            assert runtime.backoff is not None
            with lagging_loop():
                await wait_paused(runtime.backoff, True)
                old = runtime.workers["oma"]
                async with runtime.launched:
                    await old.close(force=True)  # its loop ends: the supervisor starts another
                    await asyncio.wait_for(runtime.launched.wait(), 20)
                assert runtime.workers["oma"] is not old
                assert runtime.workers["oma"].paused
    finally:
        await monitor.stop()


def test_the_back_off_levels_come_from_settings_and_are_checked(
    redis_url: str, prefix: str, tmp_path: Path
):
    settings = make_settings(redis_url, prefix, tmp_path, env={"ILS_LOOP_LAG_PAUSE_MS": "80"})
    assert settings.loop_lag_pause_ms == 80 and settings.effective_loop_lag_resume_ms == 40
    default = make_settings(redis_url, prefix, tmp_path)
    assert default.loop_lag_pause_ms == 50
    with pytest.raises(ConfigurationError, match="loop_lag_resume_ms must be below"):
        make_settings(
            redis_url, prefix, tmp_path,
            env={"ILS_LOOP_LAG_PAUSE_MS": "40", "ILS_LOOP_LAG_RESUME_MS": "60"},
        )  # fmt: skip
    with pytest.raises(ConfigurationError, match="loop_lag_pause_ms"):
        make_settings(redis_url, prefix, tmp_path, env={"ILS_LOOP_LAG_PAUSE_MS": "soon"})
    with pytest.raises(ConfigurationError, match="loop_lag_pause_ms"):
        make_settings(redis_url, prefix, tmp_path, env={"ILS_LOOP_LAG_PAUSE_MS": "0"})


def test_resume_level_must_be_under_the_pause_level():
    with pytest.raises(ValueError, match="resume_s"):
        LagBackoff(LoopLagMonitor(), list, pause_s=0.05, resume_s=0.05)
