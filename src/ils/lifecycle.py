"""The one start/stop order of an ILS process's parts, shared by ``ils worker`` and the web app's
lifespan (``ils serve``): started in order, stopped in reverse, on an :class:`AsyncExitStack`.

1. the job system: the typed helpers enqueue through its producer; closed last;
2. the process's own parts that must run before the workers (the web's loop-lag monitor);
3. the outbox relay's sweep (and SQLite's checkpoints), which every web and worker process runs;
4. the workers: awaited by a worker process, started in the background by a web process (the
   app answers while it waits for Redis); with the scheduled queue's, the schedules brought up to
   date in the background right after, while the workers take jobs (a missed run they take
   first follows its schedule's policy as it starts: ``ils.jobs.scheduled.runs``);
5. the process's parts that must stop first (the web's shutdown flag, the live hub).

:func:`inspecting` is the smallest process: the queue admin view on Redis alone.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem
    from ils.queue.admin import QueueAdmin
    from ils.queue.runtime import WorkerRuntime
    from ils.queue.settings import Settings

Part = AbstractAsyncContextManager[Any]
#: How long a stopping process lets the start's schedule pass end before cancelling it.
SETTLE_S = 5.0


@contextlib.asynccontextmanager
async def part(
    start: Callable[[], Any], stop: Callable[[], Awaitable[Any] | Any]
) -> AsyncIterator[None]:
    """A part of a process from its start and stop calls (either may be a coroutine function)."""
    started = start()
    if asyncio.iscoroutine(started):
        await started
    try:
        yield
    finally:
        stopped = stop()
        if asyncio.iscoroutine(stopped):
            await stopped


async def _cancel(task: asyncio.Task[Any]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


@contextlib.asynccontextmanager
async def running(
    system: JobSystem,
    runtime: WorkerRuntime | None = None,
    *,
    first: Sequence[Part] = (),
    last: Sequence[Part] = (),
    workers_in_background: bool = False,
) -> AsyncIterator[None]:
    """Run ``system`` (and ``runtime``'s workers) with the process's ``first`` and ``last``
    parts, in the module's order; everything started is stopped, in reverse, whatever happens."""
    async with AsyncExitStack() as stack:
        stack.push_async_callback(system.close)
        for p in first:
            await stack.enter_async_context(p)
        await system.start_background()
        stack.push_async_callback(system.stop_background)
        if runtime is not None:
            stack.push_async_callback(runtime.stop)
            await _start_workers(stack, system, runtime, workers_in_background)
        for p in last:
            await stack.enter_async_context(p)
        yield


async def _start_workers(
    stack: AsyncExitStack, system: JobSystem, runtime: WorkerRuntime, in_background: bool
) -> None:
    if in_background:
        starting = asyncio.create_task(runtime.start(), name="ils-workers-start")
        stack.push_async_callback(_cancel, starting)
    else:
        await runtime.start()
    if "scheduled" in runtime.queues:  # missed runs, then Redis equal to the rows
        scheduling = asyncio.create_task(system.start_schedules(), name="ils-schedules")
        stack.push_async_callback(_settle, scheduling)


async def _settle(task: asyncio.Task[Any], timeout_s: float = SETTLE_S) -> None:
    """Let ``task`` end (up to ``timeout_s``), then cancel it: a process stopped right after its
    start leaves its schedules done rather than half done."""
    await asyncio.wait({task}, timeout=timeout_s)
    await _cancel(task)


@contextlib.asynccontextmanager
async def inspecting(settings: Settings) -> AsyncIterator[QueueAdmin]:
    """The queue admin view alone, on its own Redis connection: what ``ils queue stats``,
    ``info`` and ``health`` need, so a bad database, mail or AI setting cannot stop them."""
    from ils.queue.admin import QueueAdmin
    from ils.queue.broker import Broker

    broker = Broker(settings)
    async with AsyncExitStack() as stack:
        stack.push_async_callback(broker.close)
        admin = QueueAdmin(settings, broker)
        yield admin
