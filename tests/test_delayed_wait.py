"""A worker waits for a delayed job's due time to the millisecond, not rounded up to whole
seconds: the engine learns that its server takes fractional ``BZPOPMIN`` timeouts from the
server's version, which the Python engine asked on its main connection only, never on the one its
worker blocks on (:mod:`ils.queue.ils_worker` asks there)."""

from __future__ import annotations

import asyncio

from ils.bootstrap import JobSystem
from ils.queue.producer import EnqueueOptions
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
