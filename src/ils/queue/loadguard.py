"""Event-loop lag and the back-off of in-process workers: the web comes first.

:class:`LoopLagMonitor` measures how late a short periodic sleep wakes up (the time every other
callback on the loop waits too); :class:`LagBackoff` pauses the workers of the process (locally,
BullMQ's ``Worker.pause``: jobs under way finish, no new one is taken) while the lag is above
the pause level and resumes them once it has stayed under the resume level, so past capacity the
backlog grows in the queues, where ``/metrics`` shows it, instead of in the requests' latency.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from ils.queue.background import BackgroundTask

log = logging.getLogger("ils.worker")

# A probe every 50 ms costs nothing measurable and sees a stall within one request's time.
PROBE_INTERVAL_S = 0.05
# Lag is judged on the worst probe of the last half second: one slow callback is enough to pause.
WINDOW = 10
# Resume only after the lag stayed under the resume level this long (no pause/resume flapping).
CALM_S = 1.0


class LoopLagMonitor:
    """How late this process's event loop runs, sampled every ``interval_s``."""

    def __init__(self, interval_s: float = PROBE_INTERVAL_S, window: int = WINDOW) -> None:
        self.interval_s = interval_s
        self.samples: deque[float] = deque(maxlen=window)
        self.lag_s = 0.0
        self.max_lag_s = 0.0
        self.listeners: list[Callable[[float], None]] = []
        self._task = BackgroundTask("ils-loop-lag", self.run)

    @property
    def recent_lag_s(self) -> float:
        """The worst lag of the last ``window`` probes."""
        return max(self.samples, default=0.0)

    def record(self, lag_s: float) -> None:
        """One sample: a probe's lateness, or (from the web's admission gate) how long a request
        waited for a free slot, since past capacity requests queue there, not on the loop."""
        self.lag_s = lag_s
        self.max_lag_s = max(self.max_lag_s, lag_s)
        self.samples.append(lag_s)
        for listener in self.listeners:
            listener(self.recent_lag_s)

    async def run(self) -> None:
        while True:
            due = time.perf_counter() + self.interval_s
            await asyncio.sleep(self.interval_s)
            self.record(max(0.0, time.perf_counter() - due))

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()


@dataclass(eq=False)
class LagBackoff:
    """Pauses ``workers()`` while the monitored lag exceeds ``pause_s``; resumes them after it
    stayed under ``resume_s`` for ``calm_s``."""

    monitor: LoopLagMonitor
    workers: Callable[[], Iterable[Any]]
    pause_s: float
    resume_s: float
    calm_s: float = CALM_S
    paused: bool = field(default=False, init=False)
    pauses: int = field(default=0, init=False)
    enabled: bool = field(default=True, init=False)
    _calm_since: float | None = field(default=None, init=False)
    # Set (and replaced) on every change of ``paused``: a waiter sees the next change.
    changed: asyncio.Event = field(default_factory=asyncio.Event, init=False)
    # Held so the loop cannot drop them.
    _pausing: set[asyncio.Future[Any]] = field(default_factory=set, init=False)

    def __post_init__(self) -> None:
        if not 0 < self.resume_s < self.pause_s:
            raise ValueError("resume_s must be above 0 and below pause_s")
        self.monitor.listeners.append(self.observe)

    def observe(self, lag_s: float) -> None:
        if not self.enabled:
            return
        if not self.paused:
            if lag_s > self.pause_s:
                self._set(True, lag_s)
            return
        if lag_s >= self.resume_s:
            self._calm_since = None
            return
        now = time.monotonic()
        if self._calm_since is None:
            self._calm_since = now
        if now - self._calm_since >= self.calm_s:
            self._set(False, lag_s)

    def _set(self, paused: bool, lag_s: float) -> None:
        self.paused = paused
        self._calm_since = None
        if paused:
            self.pauses += 1
        for worker in self.workers():
            self.apply(worker)
        log.info(
            "event loop lag %.0f ms: workers %s", lag_s * 1000, "paused" if paused else "resumed"
        )
        self.changed.set()
        self.changed = asyncio.Event()

    def apply(self, worker: Any) -> None:
        """Bring one worker to the current state (also a worker started while paused)."""
        if self.paused:
            # With do_not_wait_active the coroutine finishes without awaiting anything.
            coro = worker.pause(do_not_wait_active=True)
            task = asyncio.ensure_future(coro)
            self._pausing.add(task)
            task.add_done_callback(self._pausing.discard)
            task.add_done_callback(_log_failure)
        else:
            worker.resume()

    def disable(self) -> None:
        """Stop steering the workers (shutdown pauses them for good)."""
        self.enabled = False
        with contextlib.suppress(ValueError):
            self.monitor.listeners.remove(self.observe)


def _log_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("pausing a worker failed: %s", task.exception())
