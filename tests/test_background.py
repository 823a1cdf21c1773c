"""The repeating loop of background components (``ils.queue.background.every``): a cancellation
ends it even when the step swallowed it, as the Redis client can mid-command; otherwise a worker's
shutdown waited for the loop for ever."""

from __future__ import annotations

import asyncio
import logging

from ils.queue.background import every


async def test_a_cancellation_the_step_swallowed_still_ends_the_loop():
    in_step = asyncio.Event()
    calls = 0

    async def step() -> None:
        nonlocal calls
        calls += 1
        in_step.set()
        try:
            await asyncio.Event().wait()  # a command that never answers
        except asyncio.CancelledError:
            return  # swallowed, as a library cleaning up its connection may

    task = asyncio.create_task(every(0.01, step, logging.getLogger("test"), "step failed"))
    await asyncio.wait_for(in_step.wait(), 5)
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=5)
    assert task in done and task.cancelled()
    assert calls == 1
