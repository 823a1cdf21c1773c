"""One test per engine guard of ARCHITECTURE.md (measured defects of bullmq 3.4 + redis-py 8).

Faults that need a process to die or a server to stop are in ``test_faults.py``.
"""

from __future__ import annotations

import asyncio
import logging
import random
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ils.bootstrap import JobSystem
from ils.queue.backoff import JITTER_TYPE, bullmq_strategy, jittered_exponential_ms
from ils.queue.broker import make_client
from ils.queue.settings import QueueSpec
from tests.conftest import REPO, make_settings, probe_registry
from tests.support.running import Records, running


def system_with(redis_url: str, prefix: str, tmp_path: Path, **env: str) -> JobSystem:
    settings = make_settings(redis_url, prefix, tmp_path, env=env)
    return JobSystem(settings, probe_registry())


# ---- guard 1: no read timeout on blocking waits -----------------------------------------------


def test_worker_connections_never_time_out_reads(redis_url: str):
    client = make_client(redis_url, "worker")
    kwargs = client.connection_pool.connection_kwargs
    assert kwargs["socket_timeout"] is None
    assert kwargs["socket_keepalive"] is True
    assert kwargs["health_check_interval"] > 0


@pytest.mark.slow
async def test_a_job_delayed_12s_starts_within_1s_of_its_due_time(system: JobSystem):
    from ils.queue.producer import EnqueueOptions

    async with running(system, "oma"):
        job = await system.producer.enqueue("oma", "test-probe", {}, EnqueueOptions(delay_s=12))
        view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)
    due = view.timestamp + 12_000
    assert view.state == "completed"
    assert view.processed_on is not None
    assert 0 <= view.processed_on - due < 1_000, view.processed_on - due


# ---- guard 2: a dead worker loop is restarted, never a silent stop -----------------------------


async def test_a_worker_whose_loop_dies_is_restarted_and_keeps_working(
    system: JobSystem, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.ERROR, logger="ils.worker")
    async with running(system, "oma") as runtime:
        first = runtime.workers["oma"]
        runtime.runs["oma"].cancel()  # the loop ends without anyone asking it to
        job = await system.producer.enqueue("oma", "test-probe", {})
        view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=15)
        assert view.state == "completed"
        assert runtime.workers["oma"] is not first
        assert runtime.restarts["oma"] == 1
    assert "worker for queue oma stopped unexpectedly" in caplog.text


async def test_a_worker_that_keeps_dying_stops_the_process_non_zero(
    redis_url: str, prefix: str, tmp_path: Path
):
    system = system_with(redis_url, prefix, tmp_path)
    settings = system.settings.model_copy(update={"worker_restart_limit": 1})
    system.settings = settings
    runtime = system.runtime(("oma",))
    await runtime.start()
    try:
        run = runtime.runs["oma"]
        run.cancel()
        async with runtime.launched:
            await asyncio.wait_for(
                runtime.launched.wait_for(lambda: runtime.runs["oma"] is not run), 15
            )
        runtime.runs["oma"].cancel()  # the second death is past the budget of one restart
        code = await asyncio.wait_for(runtime.wait(), 15)
        assert code == 1
        assert "keeps dying" in str(runtime.fatal)
    finally:
        await runtime.stop()
        await system.close()


# ---- guard 4: a limiter needs a short drain delay ----------------------------------------------


def test_every_queue_gets_a_one_second_drain_delay():
    # A limiter or a global concurrency can be set at run time on any queue (admin overrides).
    assert QueueSpec(rate_max=10, rate_duration_ms=1000).effective_drain_delay_s == 1.0
    assert QueueSpec().effective_drain_delay_s == 1.0
    assert QueueSpec(drain_delay_s=2.5).effective_drain_delay_s == 2.5


@pytest.mark.slow
async def test_a_10_per_second_limiter_reaches_8_per_second_and_is_never_exceeded(
    redis_url: str, prefix: str, tmp_path: Path
):
    system = system_with(
        redis_url, prefix, tmp_path,
        ILS_QUEUE_OMA_RATE_MAX="10", ILS_QUEUE_OMA_RATE_DURATION_MS="1000",
        ILS_QUEUE_OMA_CONCURRENCY="10",
    )  # fmt: skip
    try:
        ids = [
            (await system.producer.enqueue("oma", "test-probe", {"tag": str(i)})).job_id
            for i in range(40)
        ]
        async with running(system, "oma"):
            views = [await system.admin.wait_for_job("oma", i, timeout_s=30) for i in ids]
    finally:
        await system.close()
    started = sorted(v.processed_on or 0 for v in views)
    assert all(v.state == "completed" for v in views)
    rate = (len(started) - 1) / ((started[-1] - started[0]) / 1000)
    assert rate >= 8.0, f"achieved {rate:.2f}/s"
    for i, t in enumerate(started):
        in_window = sum(1 for u in started[i:] if u < t + 1000)
        assert in_window <= 10, f"{in_window} jobs started within 1 s of {t}"


# ---- guard 5: never call Job.changePriority -----------------------------------------------------


def test_no_code_calls_change_priority():
    offenders = [
        str(path.relative_to(REPO))
        for path in (REPO / "src").rglob("*.py")
        if re.search(r"\bchange_?priority\s*\(", path.read_text(), re.IGNORECASE)
    ]
    assert offenders == []


# ---- guard 6: jitter is ours ---------------------------------------------------------------------


@given(
    base=st.integers(min_value=0, max_value=600_000),
    attempt=st.integers(min_value=1, max_value=80),
    seed=st.integers(),
)
def test_jittered_backoff_stays_between_half_and_all_of_the_exponential_ceiling(
    base: int, attempt: int, seed: int
):
    cap = 6 * 3600 * 1000
    delay = jittered_exponential_ms(base, attempt, random.Random(seed))
    ceiling = min(cap, base * 2 ** min(attempt - 1, 62))
    assert ceiling // 2 <= delay <= ceiling


@given(base=st.integers(min_value=1_000, max_value=60_000), attempt=st.integers(1, 10))
def test_jittered_backoff_never_shrinks_by_more_than_half_from_one_attempt_to_the_next(
    base: int, attempt: int
):
    rng = random.Random(attempt)
    assert jittered_exponential_ms(base, attempt + 1, rng) >= base * 2 ** (attempt - 1) // 2


def test_jitter_spreads_retries_of_jobs_failing_together():
    rng = random.Random(7)
    delays = {jittered_exponential_ms(2_000, 3, rng) for _ in range(50)}
    assert len(delays) > 40


def test_the_bullmq_strategy_refuses_types_it_does_not_know():
    class FakeJob:  # the strategy reads only opts
        opts = {"backoff": {"type": JITTER_TYPE, "delay": 1000}}

    strategy = bullmq_strategy(random.Random(1))
    assert 500 <= strategy(1, JITTER_TYPE, None, FakeJob()) <= 1000
    assert strategy(1, "mystery", None, FakeJob()) == -1


# ---- guard 7: blocking handlers run off the loop, so locks are renewed ---------------------------


async def test_a_sync_handler_blocking_past_its_lock_runs_exactly_once(
    redis_url: str, prefix: str, tmp_path: Path, records: Records
):
    system = system_with(
        redis_url, prefix, tmp_path,
        ILS_QUEUE_OMA_LOCK_DURATION_MS="1000", ILS_QUEUE_OMA_STALLED_INTERVAL_MS="500",
    )  # fmt: skip
    try:
        async with running(system, "oma"):
            job = await system.producer.enqueue("oma", "test-blocking", {"blockS": 3})
            view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
        assert view.state == "completed"
        assert view.return_value == "done"
        assert await records.runs("oma", job.job_id) == 1
    finally:
        await system.close()
