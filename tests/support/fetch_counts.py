"""Counting a worker's fetch scripts (``moveToActive``) while jobs reach its queue one at a
time, each once the worker blocks on the queue again: what an idle queue sees. Shared by the
worker-wait tests and ``bench/idle_fetches.py``, for ILS's worker and the bare engine's alike."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class FetchCount:
    """Fetch scripts and CPU time (this process's) over ``jobs`` jobs, start-up excluded."""

    jobs: int
    fetches: int
    cpu_s: float

    @property
    def per_job(self) -> float:
        return self.fetches / self.jobs


async def one_at_a_time(
    worker: Any, add: Callable[[int], Awaitable[object]], jobs: int, timeout_s: float = 30.0
) -> FetchCount:
    """Add ``jobs`` jobs through ``add(n)`` to ``worker``'s queue, each once the worker blocks
    on the queue (again), waiting for each to complete; the fetches counted from the first
    block on. ``worker`` is a ``bullmq.Worker`` (ILS's ``IlsWorker`` included), running."""
    blocking, done = asyncio.Event(), asyncio.Event()
    fetches = 0
    wait, fetch = worker.backend.waitForJob, worker.backend.moveToActive

    async def waiting(block_timeout: float) -> Any:
        blocking.set()
        return await wait(block_timeout)

    async def counted(*args: Any, **kwargs: Any) -> Any:
        nonlocal fetches
        fetches += 1
        return await fetch(*args, **kwargs)

    worker.backend.waitForJob, worker.backend.moveToActive = waiting, counted
    worker.on("completed", lambda *_: done.set())
    await asyncio.wait_for(blocking.wait(), timeout_s)
    fetches, cpu = 0, time.process_time()
    for n in range(jobs):
        blocking.clear()
        done.clear()
        await add(n)
        await asyncio.wait_for(done.wait(), timeout_s)
        await asyncio.wait_for(blocking.wait(), timeout_s)
    return FetchCount(jobs, fetches, time.process_time() - cpu)
