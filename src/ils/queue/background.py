"""Background work of a long-lived component: one named task started once and cancelled on stop,
and the loop that repeats a step on an interval through Redis outages.

The loop lag monitor, the SQLite checkpointer and the live hub run their loop in a
:class:`BackgroundTask`; the heartbeat and the cancel watcher repeat their step with :func:`every`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, NoReturn

from redis.exceptions import RedisError


class BackgroundTask:
    """A named asyncio task running ``work()``: :meth:`start` starts it unless it runs already,
    :meth:`stop` cancels it and waits for it to end."""

    def __init__(self, name: str, work: Callable[[], Coroutine[Any, Any, Any]]) -> None:
        self.name = name
        self._work = work
        self._task: asyncio.Task[Any] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> None:
        if not self.running:
            self._task = asyncio.get_running_loop().create_task(self._work(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def every(
    interval_s: float, step: Callable[[], Awaitable[Any]], log: logging.Logger, failed: str
) -> NoReturn:
    """Run ``step`` every ``interval_s`` for ever; a Redis error is logged (debug, as
    ``failed: error``) and the next round tries again. A cancellation ends it even when ``step``
    swallowed it (the Redis client can, when it arrives mid-command): else the loop would go on
    for ever, and the process that cancelled it would wait for it at shutdown."""
    while True:
        try:
            await step()
        except RedisError as exc:
            log.debug("%s: %s", failed, exc)
        task = asyncio.current_task()
        if task is not None and task.cancelling():
            raise asyncio.CancelledError
        await asyncio.sleep(interval_s)
