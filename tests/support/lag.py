"""Test helpers for the loop-lag back-off: make this event loop lag on purpose, and wait on the
lag monitor and the back-off's state changes (events, never sleeps)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterator

from ils.queue.loadguard import LagBackoff, LoopLagMonitor


@contextlib.contextmanager
def lagging_loop(block_s: float = 0.15, every_s: float = 0.02) -> Iterator[None]:
    """While inside, a callback blocks the running loop for ``block_s`` every ``every_s``:
    the load a CPU-bound request would put on it."""
    loop = asyncio.get_running_loop()
    state: dict[str, asyncio.Handle | bool] = {"on": True}

    def block() -> None:
        if not state["on"]:
            return
        time.sleep(block_s)  # the point of the helper: hold the event loop
        state["handle"] = loop.call_later(every_s, block)

    state["handle"] = loop.call_soon(block)
    try:
        yield
    finally:
        state["on"] = False
        handle = state["handle"]
        assert isinstance(handle, asyncio.Handle)
        handle.cancel()


async def wait_paused(backoff: LagBackoff, paused: bool, timeout_s: float = 20) -> None:
    """Return once ``backoff.paused == paused``."""
    async with asyncio.timeout(timeout_s):
        while True:
            changed = backoff.changed
            if backoff.paused == paused:
                return
            await changed.wait()


async def wait_samples(monitor: LoopLagMonitor, n: int, timeout_s: float = 20) -> None:
    """Return after the monitor has taken ``n`` more samples."""
    done = asyncio.Event()
    seen = 0

    def count(_lag: float) -> None:
        nonlocal seen
        seen += 1
        if seen >= n:
            done.set()

    monitor.listeners.append(count)
    try:
        await asyncio.wait_for(done.wait(), timeout_s)
    finally:
        monitor.listeners.remove(count)
