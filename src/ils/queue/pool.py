"""A process pool for a handler's CPU-bound work (guard 7: never block the event loop).

One per kind of work per process (the PDF renderers, the AI models), sized from its queue's
concurrency so a job never waits for a free process. Processes are spawned, not forked (the
parent runs an event loop and threads a fork would copy), at the first use, each running
``initializer`` first; :meth:`ProcessPool.close` stops them. A process that dies (killed, out of
memory) breaks the whole executor: it is dropped, the job's attempt fails with
:class:`ProcessPoolBroken` (and is retried), and the next use starts a fresh one. A pool process
whose parent dies (kill -9 of a worker) exits at once: it would otherwise live on, orphaned,
since it holds both ends of the executor's call queue and never reads its end-of-file.

The web comes first: pool processes run at a lower CPU priority (``nice``, 10 by default), so a
burst of renders or model fits, and the processes' own start-up, take the CPU the web process
leaves, not the CPU its requests need.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.connection import wait
from typing import Any, TypeVar

from ils.errors import IlsJobsError

R = TypeVar("R")

# How much lower than its parent's a pool process's CPU priority is (0-19; 19 is the lowest).
POOL_NICE = 10


def when_parent_exits(action: Callable[[], None]) -> None:
    """In a spawned process: call ``action`` (in a thread) as soon as the process that started
    it is gone (its sentinel, a pipe the parent holds open, becomes readable when it dies,
    however it died). Nothing when this process was not started by :mod:`multiprocessing`."""
    parent = multiprocessing.parent_process()
    if parent is None or parent.sentinel is None:
        return
    sentinel = parent.sentinel

    def watch() -> None:
        wait([sentinel])
        action()

    threading.Thread(target=watch, name="ils-parent-watch", daemon=True).start()


def _start_process(nice: int, initializer: Callable[[], None] | None) -> None:
    # First thing in each new process, before the imports of ``initializer``: a pool process
    # whose parent is gone exits at once.
    when_parent_exits(lambda: os._exit(1))
    if nice:
        with contextlib.suppress(OSError):  # a platform without nice runs at the same priority
            os.nice(nice)
    if initializer is not None:
        initializer()


class ProcessPoolBroken(IlsJobsError):
    """A pool process died while working; the pool is rebuilt for the next job."""


class ProcessPool:
    """Runs picklable functions in up to ``workers`` spawned processes."""

    def __init__(
        self,
        workers: int,
        what: str,
        initializer: Callable[[], None] | None = None,
        nice: int = POOL_NICE,
    ) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        if not 0 <= nice <= 19:
            raise ValueError("nice must be between 0 and 19")
        self.workers = workers
        self.nice = nice
        self.what = what
        self.initializer = initializer
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def _pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise IlsJobsError(f"the {self.what} pool is closed")
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_process,
                initargs=(self.nice, self.initializer),
            )
        return self._executor

    async def run(self, fn: Callable[..., R], *args: Any) -> R:
        """``fn(*args)`` in a pool process; its own error if it raises."""
        pool = self._pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool as exc:
            if self._executor is pool:
                self._executor = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise ProcessPoolBroken(f"a {self.what} process died: {exc}") from exc

    async def close(self) -> None:
        """Stop the processes (work under way finishes first)."""
        self._closed = True
        pool, self._executor = self._executor, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
