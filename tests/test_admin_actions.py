"""The admin layer's job lists, job details and actions, against a real Redis and real workers:
every action changes what the engine does, not only what the admin reads."""

from __future__ import annotations

import itertools

import pytest

from ils.bootstrap import JobSystem
from ils.errors import JobNotFound, JobStateConflict
from ils.queue.producer import EnqueueOptions
from tests.support.running import Records, running

ONCE = EnqueueOptions(attempts=1)


@pytest.fixture
async def records(system: JobSystem):
    r = Records(system.broker.url, system.settings.prefix)
    yield r
    await r.close()


async def enqueue(system: JobSystem, queue: str = "oma", options: EnqueueOptions = ONCE, **data):
    return (await system.producer.enqueue(queue, "test-probe", data, options)).job_id


async def test_job_lists_are_paged_newest_first_with_totals(system: JobSystem):
    await system.admin.actions.pause("oma")
    ids = [await enqueue(system, tag=f"t{i}") for i in range(5)]
    first = await system.admin.browse.jobs("oma", "waiting", page=1, page_size=2)
    second = await system.admin.browse.jobs("oma", "waiting", page=2, page_size=2)
    last = await system.admin.browse.jobs("oma", "waiting", page=3, page_size=2)
    assert first.total == 5
    listed = [j.id for page in (first, second, last) for j in page.jobs]
    assert listed == ids[::-1]
    assert first.jobs[0].name == "test-probe" and first.jobs[0].attempts == 1
    with pytest.raises(ValueError, match="unknown job state 'finished'"):
        await system.admin.browse.jobs("oma", "finished")
    with pytest.raises(ValueError, match="page_size"):
        await system.admin.browse.jobs("oma", "waiting", page_size=0)


async def test_a_failed_job_shows_its_reason_stack_trace_logs_and_can_be_retried(
    system: JobSystem, records: Records
):
    job_id = await enqueue(system, fail_times=1, tag="flaky")
    async with running(system, "oma"):
        failed = await system.admin.wait_for_job("oma", job_id, timeout_s=20)
        assert failed.state == "failed"
        detail = await system.admin.browse.detail("oma", job_id)
        assert detail.failed_reason == "transient failure 1"
        assert any("RuntimeError: transient failure 1" in s for s in detail.stacktrace)
        assert detail.logs == ["run 1 of flaky"] and detail.log_count == 1
        assert detail.data["tag"] == "flaky" and detail.data["failTimes"] == 1
        assert detail.options["attempts"] == 1 and detail.parent is None
        with pytest.raises(JobStateConflict, match="is failed, not delayed"):
            await system.admin.actions.promote("oma", job_id)
        assert await system.admin.actions.retry("oma", job_id) == "waiting"
        done = await system.admin.wait_for_job("oma", job_id, timeout_s=20)
    assert done.state == "completed" and await records.runs("oma", job_id) == 2
    with pytest.raises(JobStateConflict, match="is completed, not failed"):
        await system.admin.actions.retry("oma", job_id)
    with pytest.raises(JobNotFound):
        await system.admin.browse.detail("oma", "no-such-job")


async def test_retry_all_failed_and_clean_old_ones(system: JobSystem):
    failing = [await enqueue(system, fail_times=1, tag=f"f{i}") for i in range(3)]
    fine = [await enqueue(system, tag=f"ok{i}") for i in range(2)]
    async with running(system, "oma"):
        for job_id in failing + fine:
            await system.admin.wait_for_job("oma", job_id, timeout_s=20)
        assert (await system.admin.stats(["oma"]))["oma"]["failed"] == 3
        assert await system.admin.actions.retry_all_failed("oma") == 3
        for job_id in failing:
            view = await system.admin.wait_for_job("oma", job_id, timeout_s=20)
            assert view.state == "completed"
    assert await system.admin.actions.clean("oma", "completed", older_than_s=3600) == 0
    assert await system.admin.actions.clean("oma", "completed", older_than_s=0) == 5
    assert (await system.admin.stats(["oma"]))["oma"]["completed"] == 0
    with pytest.raises(ValueError, match="completed or failed"):
        await system.admin.actions.clean("oma", "active", 0)  # type: ignore[arg-type]


async def test_promote_runs_a_delayed_job_now_and_remove_deletes_one(system: JobSystem):
    later = await enqueue(system, options=EnqueueOptions(attempts=1, delay_s=3600), tag="later")
    gone = await enqueue(system, options=EnqueueOptions(attempts=1, delay_s=3600), tag="gone")
    await system.admin.actions.remove("oma", gone)
    with pytest.raises(JobNotFound):
        await system.admin.get_job("oma", gone)
    async with running(system, "oma"):
        await system.admin.actions.promote("oma", later)
        view = await system.admin.wait_for_job("oma", later, timeout_s=20)
    assert view.state == "completed"


async def test_cancel_stops_an_active_job_which_ends_cancelled_without_retry(
    system: JobSystem, records: Records
):
    job_id = await enqueue(
        system, options=EnqueueOptions(attempts=3), until_cancelled=True, tag="long"
    )
    async with running(system, "oma"):
        assert await records.wait_started(20) == job_id
        with pytest.raises(JobStateConflict, match="is active: cancel it"):
            await system.admin.actions.remove("oma", job_id)
        workers = await system.admin.workers()
        assert [w.active for w in workers] in ([1], [0])  # the beat may predate the job
        assert (await system.admin.actions.cancel("oma", job_id)).outcome == "cancelling"
        view = await system.admin.wait_for_job("oma", job_id, timeout_s=20)
    # Completed on BullMQ (Node dashboards see no failure), shown as cancelled here.
    assert view.state == "cancelled" and view.failed_reason is None
    assert view.return_value["_ilsCancelled"]["reason"] == "stopped on request"
    assert view.attempts_made == 1 and await records.runs("oma", job_id) == 1
    assert (await system.admin.stats(["oma"]))["oma"]["failed"] == 0
    with pytest.raises(JobStateConflict, match="is cancelled: it has ended"):
        await system.admin.actions.cancel("oma", job_id)


async def test_a_rate_limit_set_at_run_time_holds_across_the_queue(system: JobSystem):
    await system.admin.actions.set_rate_limit("oma", 2, 1000)
    overrides = await system.admin.actions.overrides("oma")
    assert (overrides.rate_max, overrides.rate_duration_ms) == (2, 1000)
    ids = [await enqueue(system, tag=f"r{i}") for i in range(6)]
    async with running(system, "oma"):
        views = [await system.admin.wait_for_job("oma", i, timeout_s=30) for i in ids]
    started = sorted(v.processed_on or 0 for v in views)
    # Any 3 jobs taken span at least one whole window: no window held more than 2.
    assert min(started[i + 2] - started[i] for i in range(len(started) - 2)) >= 1000
    await system.admin.actions.set_rate_limit("oma", None)
    assert (await system.admin.actions.overrides("oma")).rate_max is None


async def test_a_concurrency_cap_set_at_run_time_serialises_the_queue(system: JobSystem):
    await system.admin.actions.set_concurrency("oma", 1)  # oma's workers run 2 at once
    assert (await system.admin.actions.overrides("oma")).concurrency == 1
    ids = [await enqueue(system, block_s=0.2, tag=f"c{i}") for i in range(4)]
    async with running(system, "oma"):
        views = [await system.admin.wait_for_job("oma", i, timeout_s=30) for i in ids]
    spans = sorted((v.processed_on or 0, v.finished_on or 0) for v in views)
    assert all(nxt[0] >= prev[1] for prev, nxt in itertools.pairwise(spans)), spans
    await system.admin.actions.set_concurrency("oma", None)
    assert (await system.admin.actions.overrides("oma")).concurrency is None


async def test_throughput_and_totals_count_what_workers_did(system: JobSystem):
    ok = [await enqueue(system, tag=f"ok{i}") for i in range(3)]
    bad = await enqueue(system, give_up=True)
    async with running(system, "oma"):
        for job_id in [*ok, bad]:
            await system.admin.wait_for_job("oma", job_id, timeout_s=20)
    # The runtime flushes its counters on stop.
    points = await system.admin.metrics.throughput("oma", minutes=60)
    assert len(points) == 60 and points[-1].minute > points[0].minute
    assert sum(p.completed for p in points) == 3 and sum(p.failed for p in points) == 1
    [series] = [t for t in await system.admin.metrics.totals() if t.queue == "oma"]
    assert series.name == "test-probe"
    assert series.outcomes == {"completed": 3, "failed": 1, "retried": 0}
    assert series.count == 4 and series.buckets[-1] == ("+Inf", 4) and series.seconds > 0
