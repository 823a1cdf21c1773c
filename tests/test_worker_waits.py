"""How a worker waits (:mod:`ils.queue.ils_worker`): for a delayed job's due time to the
millisecond, not rounded up to whole seconds (the engine learns that its server takes fractional
``BZPOPMIN`` timeouts from the server's version, which the Python engine asked on its main
connection only, never on the one its worker blocks on); and on an idle queue with one slot
blocking while the others run no fetch script (they found nothing, three scripts each per job)."""

from __future__ import annotations

import asyncio

import pytest
from bullmq.backends.redis_backend import RedisBackend

from ils.bootstrap import JobSystem
from ils.queue.producer import EnqueueOptions
from tests.support.fetch_counts import one_at_a_time
from tests.support.running import running


async def test_a_worker_waits_for_a_delayed_job_in_fractions_of_a_second(system: JobSystem):
    async with running(system, "oma") as runtime:
        await runtime.wait_started(10)
        worker = runtime.workers["oma"]
        waits: list[float] = []
        waited = asyncio.Event()
        wait = worker.backend.waitForJob

        async def recorded(block_timeout: float) -> object:
            if worker.blockUntil:  # a wait bounded by a delayed job's due time
                waits.append(block_timeout)
                waited.set()
            return await wait(block_timeout)

        worker.backend.waitForJob = recorded
        options = EnqueueOptions(delay_s=1.5)
        await system.producer.enqueue("oma", "test-probe", {"tag": "later"}, options)
        await asyncio.wait_for(waited.wait(), 10)
    assert worker.blockingRedisConnection.capabilities["canDoubleTimeout"] is True
    # Rounded up to whole seconds, the wait would be 2 s: the job would run half a second late.
    assert 0 < waits[0] <= 1.5


async def test_idle_slots_run_no_fetch_while_one_slot_waits_for_the_queue(system: JobSystem):
    queue, jobs = "notification", 5
    concurrency = system.settings.queue(queue).concurrency
    async with running(system, queue) as runtime:
        await runtime.wait_started(10)

        async def add(n: int) -> object:  # each job reaches an empty queue, its worker blocking
            return await system.producer.enqueue(queue, "test-probe", {"tag": f"idle-{n}"})

        counted = await one_at_a_time(runtime.workers[queue], add, jobs, timeout_s=10)
    assert concurrency == 10
    # The blocking slot's fetch, then about one by each other slot (a burst may have come):
    # 11 a job at concurrency 10, where the engine alone ran about three a slot (27-29 a job).
    assert counted.fetches <= jobs * concurrency * 1.5, counted


async def drain_counting_fetches(
    system: JobSystem, monkeypatch: pytest.MonkeyPatch, queue: str, jobs: int, fail: bool
) -> tuple[int, list[str]]:
    """Run ``queue``'s worker over the ``jobs`` waiting there, with a handler that succeeds (or
    raises, with ``fail``), until each has run: the fetch scripts it ran, and the tags run."""
    fetches = 0
    fetch = RedisBackend.moveToActive

    async def counted(self: RedisBackend, *args: object, **kwargs: object) -> object:
        nonlocal fetches
        fetches += 1
        return await fetch(self, *args, **kwargs)

    monkeypatch.setattr(RedisBackend, "moveToActive", counted)
    ran: list[str] = []
    done = asyncio.Event()

    def handle(payload: object, _ctx: object) -> str:
        ran.append(str(getattr(payload, "tag", "")))
        if len(ran) == jobs:
            done.set()
        if fail:
            raise ValueError(f"bad payload {ran[-1]}")
        return "ok"

    system.registry.set_handler(queue, "test-probe", handle)
    async with running(system, queue):
        await asyncio.wait_for(done.wait(), 30)
    return fetches, ran


async def test_a_busy_queue_takes_each_next_job_with_the_completion(
    system: JobSystem, monkeypatch: pytest.MonkeyPatch
):
    """Node BullMQ's worker completes a job and takes the slot's next one in one script
    (``moveToFinished`` with ``fetchNext``); the Python engine ran the fetch script
    (``moveToActive``) again after every job. A queue with jobs waiting: each completion takes
    the next, and a fetch runs only as a slot starts or finds the queue drained."""
    queue, jobs = "oma", 120
    concurrency = system.settings.queue(queue).concurrency
    for n in range(jobs):  # waiting before the worker starts: a busy queue
        await system.producer.enqueue(queue, "test-probe", {"tag": f"busy-{n}"})
    fetches, ran = await drain_counting_fetches(system, monkeypatch, queue, jobs, fail=False)
    counts = await system.producer.queue(queue).getJobCounts("completed", "active", "wait")
    assert counts == {"completed": jobs, "active": 0, "wait": 0}
    assert sorted(ran) == sorted(f"busy-{n}" for n in range(jobs))  # each job once
    # A fetch for each slot as it starts, and one for each that finds the queue drained at the
    # end: not one a job (the engine's worker ran 120 and more here).
    assert fetches <= 3 * concurrency, (fetches, concurrency)


async def test_a_busy_queue_of_failing_jobs_takes_each_next_job_with_the_failure(
    system: JobSystem, monkeypatch: pytest.MonkeyPatch
):
    """The same for jobs that fail for good (``moveToFinished`` to ``failed`` with
    ``fetchNext``): each failure takes the next job, and every job fails once, its reason
    kept."""
    queue, jobs = "oma", 60
    concurrency = system.settings.queue(queue).concurrency
    once = EnqueueOptions(attempts=1)
    for n in range(jobs):
        await system.producer.enqueue(queue, "test-probe", {"tag": f"bad-{n}"}, once)
    fetches, ran = await drain_counting_fetches(system, monkeypatch, queue, jobs, fail=True)
    bullmq_queue = system.producer.queue(queue)
    assert await bullmq_queue.getJobCounts("failed", "active", "wait") == {
        "failed": jobs, "active": 0, "wait": 0,
    }  # fmt: skip
    [failed] = await bullmq_queue.getJobs(["failed"], 0, 0)
    assert str(failed.failedReason).startswith("bad payload bad-")
    assert sorted(ran) == sorted(f"bad-{n}" for n in range(jobs))  # each job once
    assert fetches <= 3 * concurrency, (fetches, concurrency)
