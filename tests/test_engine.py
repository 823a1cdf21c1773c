"""The engine end to end on a real Redis: enqueue -> process -> complete on every queue,
failures kept with their reason, retries with backoff, snoozes, priorities and retention."""

from __future__ import annotations

from pathlib import Path

from ils.bootstrap import JobSystem
from ils.queue.producer import EnqueueOptions
from ils.queue.settings import QUEUE_NAMES
from tests.conftest import make_settings, probe_registry
from tests.support.running import Records, running


async def test_every_queue_processes_a_job_to_completion(system: JobSystem, records: Records):
    jobs = {}
    for q in QUEUE_NAMES:
        jobs[q] = await system.producer.enqueue(q, "test-probe", {"tag": q})
        assert jobs[q].mode == "queued"
    async with running(system, *QUEUE_NAMES):
        for q, job in jobs.items():
            view = await system.admin.wait_for_job(q, job.job_id, timeout_s=15)
            assert view.state == "completed", view
            assert view.return_value == {"runs": 1, "tag": q}
            assert await records.runs(q, job.job_id) == 1


async def test_job_without_handler_fails_with_reason_and_is_kept(system: JobSystem):
    job = await system.producer.enqueue("pdf", "test-unhandled", {"tag": "t"})
    async with running(system, "pdf"):
        view = await system.admin.wait_for_job("pdf", job.job_id, timeout_s=15)
    assert view.state == "failed"
    assert view.failed_reason == "no handler for pdf/test-unhandled"
    assert view.attempts_made == 1  # not retried: it can never succeed
    assert view.data["tag"] == "t"
    counts = (await system.admin.stats(["pdf"]))["pdf"]
    assert counts["failed"] == 1 and counts["active"] == 0


async def test_unknown_job_name_from_a_foreign_producer_fails_and_is_kept(system: JobSystem):
    job = await system.producer.queue("pdf").add("no-such-type", {"x": 1}, {"attempts": 3})
    async with running(system, "pdf"):
        view = await system.admin.wait_for_job("pdf", str(job.id), timeout_s=15)
    assert view.state == "failed"
    assert "unknown job type" in (view.failed_reason or "")


async def test_invalid_payload_reaching_a_worker_fails_naming_the_field(system: JobSystem):
    job = await system.producer.queue("oma").add("test-probe", {"failTimes": "many"}, {})
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", str(job.id), timeout_s=15)
    assert view.state == "failed"
    assert "fail_times" in (view.failed_reason or "")


async def test_failures_are_retried_with_backoff_then_complete(
    redis_url: str, prefix: str, tmp_path: Path, records: Records
):
    settings = make_settings(
        redis_url, prefix, tmp_path,
        env={"ILS_QUEUE_OMA_BACKOFF_DELAY_MS": "1000", "ILS_QUEUE_OMA_ATTEMPTS": "3"},
    )  # fmt: skip
    system = JobSystem(settings, probe_registry())
    try:
        job = await system.producer.enqueue("oma", "test-probe", {"failTimes": 2})
        async with running(system, "oma"):
            view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)
        assert view.state == "completed"
        assert view.attempts_made == 3
        t = await records.times(job.job_id)
        # jittered exponential: retry n waits between half and all of 1 s * 2**(n-1)
        assert t[1] - t[0] >= 0.5
        assert t[2] - t[1] >= 1.0
    finally:
        await system.close()


async def test_failing_job_ends_failed_after_its_attempts_with_reason_kept(
    redis_url: str, prefix: str, tmp_path: Path, records: Records
):
    settings = make_settings(
        redis_url, prefix, tmp_path, env={"ILS_QUEUE_OMA_BACKOFF": "fixed",
                                          "ILS_QUEUE_OMA_BACKOFF_DELAY_MS": "0"}
    )  # fmt: skip
    system = JobSystem(settings, probe_registry())
    try:
        job = await system.producer.enqueue(
            "oma", "test-probe", {"failTimes": 10}, EnqueueOptions(attempts=2)
        )
        async with running(system, "oma"):
            view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=15)
        assert view.state == "failed"
        assert view.attempts_made == 2
        assert view.failed_reason == "transient failure 2"
        assert await records.runs("oma", job.job_id) == 2
    finally:
        await system.close()


async def test_give_up_fails_at_once_and_retry_later_does_not_use_an_attempt(
    system: JobSystem, records: Records
):
    gave_up = await system.producer.enqueue(
        "oma", "test-probe", {"giveUp": True}, EnqueueOptions(attempts=5)
    )
    snoozed = await system.producer.enqueue(
        "oma", "test-probe", {"retryLaterS": 0.2}, EnqueueOptions(attempts=1)
    )
    async with running(system, "oma"):
        a = await system.admin.wait_for_job("oma", gave_up.job_id, timeout_s=15)
        b = await system.admin.wait_for_job("oma", snoozed.job_id, timeout_s=15)
    assert (a.state, a.attempts_made, a.failed_reason) == ("failed", 1, "permanent problem")
    assert b.state == "completed"
    assert await records.runs("oma", snoozed.job_id) == 2


async def test_higher_priority_jobs_run_first(system: JobSystem, records: Records):
    ids = []
    for tag, priority in [("low", 10), ("mid", 5), ("high", 1), ("low2", 10)]:
        job = await system.producer.enqueue(
            "scheduled", "test-probe", {"tag": tag}, EnqueueOptions(priority=priority)
        )
        ids.append(job.job_id)
    counts = (await system.admin.stats(["scheduled"]))["scheduled"]
    assert counts["prioritized"] == 4
    async with running(system, "scheduled"):  # concurrency 1: one at a time, in order
        for job_id in ids:
            await system.admin.wait_for_job("scheduled", job_id, timeout_s=15)
    assert await records.order() == [
        "scheduled:high", "scheduled:mid", "scheduled:low", "scheduled:low2"
    ]  # fmt: skip


async def test_retention_bounds_completed_jobs_and_keeps_failed_ones_for_a_week(
    redis_url: str, prefix: str, tmp_path: Path
):
    settings = make_settings(
        redis_url,
        prefix,
        tmp_path,
        env={"ILS_QUEUE_OMA_KEEP_COMPLETED_COUNT": "2", "ILS_QUEUE_OMA_CONCURRENCY": "1"},
    )
    system = JobSystem(settings, probe_registry())
    try:
        for i in range(5):
            await system.producer.enqueue("oma", "test-probe", {"tag": str(i)})
        failed = await system.producer.enqueue("oma", "test-probe", {"giveUp": True})
        async with running(system, "oma"):  # one at a time, in order: the failing one last
            await system.admin.wait_for_job("oma", failed.job_id, timeout_s=15)
        counts = (await system.admin.stats(["oma"]))["oma"]
        assert counts["completed"] == 2
        assert counts["failed"] == 1
        job = await system.producer.queue("oma").getJob(failed.job_id)
        assert job.opts["removeOnFail"]["age"] == 7 * 24 * 3600
        assert job.opts["removeOnComplete"]["age"] == 24 * 3600
    finally:
        await system.close()
