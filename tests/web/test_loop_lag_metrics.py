"""``GET /metrics`` shows the web process's event-loop lag and whether its in-process workers
are paused for it (the backlog then shows in the queues' counts)."""

from __future__ import annotations

from pathlib import Path

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.web.app import create_app
from ils.web.settings import WebSettings
from tests.conftest import make_settings, probe_registry
from tests.support.lag import lagging_loop, wait_paused
from tests.web.conftest import make_client
from tests.web.test_metrics import samples

# Well above what a busy machine's scheduling alone makes (other tests share the two cores): only
# the lag made on purpose below pauses the workers, and nothing pauses them again once it ends.
PAUSE_MS = 250


async def test_metrics_show_loop_lag_and_the_workers_lag_pause(
    redis_url: str, prefix: str, tmp_path: Path, db: Database, web_settings: WebSettings
):
    env = {"ILS_LOOP_LAG_PAUSE_MS": str(PAUSE_MS)}
    settings = make_settings(redis_url, prefix, tmp_path, env=env)
    system = JobSystem(settings, registry=probe_registry(), database=db)
    app = create_app(system, run_workers=True, queues=("oma",), web_settings=web_settings)
    async with app.router.lifespan_context(app):
        runtime = app.state.runtime
        await runtime.wait_started(20)
        await wait_paused(runtime.backoff, False)  # start-up itself may have lagged
        async with make_client(app) as client:
            calm = samples((await client.get("/metrics")).text)
            assert calm[("ils_workers_lag_paused", ())] == 0
            assert calm[("ils_web_loop_lag_seconds", ())] >= 0
            with lagging_loop(block_s=2 * PAUSE_MS / 1000):
                await wait_paused(runtime.backoff, True)
                job = await system.producer.enqueue("oma", "test-probe", {})
                got = samples((await client.get("/metrics")).text)
            assert got[("ils_workers_lag_paused", ())] == 1
            pauses = ("ils_workers_lag_pauses_total", ())
            assert got[pauses] >= calm[pauses] + 1
            assert got[("ils_web_loop_lag_seconds", ())] > settings.loop_lag_pause_ms / 1000
            assert got[("ils_jobs", (("queue", "oma"), ("state", "waiting")))] == 1
            await wait_paused(runtime.backoff, False)
            await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
            after = samples((await client.get("/metrics")).text)
            assert after[("ils_workers_lag_paused", ())] == 0


async def test_a_web_process_without_workers_still_reports_its_loop_lag(app):
    async with make_client(app) as client:
        got = samples((await client.get("/metrics")).text)
    assert ("ils_web_loop_lag_seconds", ()) in got
    assert ("ils_workers_lag_paused", ()) not in got
