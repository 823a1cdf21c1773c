"""The render pool: PDF rendering in worker processes, off the event loop (guard 7).

One per process, sized from the pdf queue's concurrency (a job never waits for a free renderer),
built by :class:`ils.bootstrap.JobSystem`; its processes start at the first render and stop at
close. Documents go in as plain data; :meth:`RenderPool.render_and_store` also writes the file
from the pool process, so the PDF's bytes never cross back to the event loop's process.
"""

from __future__ import annotations

import asyncio
import multiprocessing
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import TypeVar

from ils.files import FileStorage, StoredFile
from ils.jobs.pdf.model import Document
from ils.jobs.pdf.render import render_document
from ils.queue.errors import IlsJobsError

Renderer = Callable[[Document], bytes]
R = TypeVar("R")


class RenderPoolBroken(IlsJobsError):
    """A render process died (killed, out of memory); the pool is rebuilt for the next job."""


def _warm() -> None:
    # Runs first in each new process: fonts and reportlab are loaded before the first job.
    import ils.jobs.pdf.render  # noqa: F401


def _render_and_store(
    renderer: Renderer, storage: FileStorage, key: str, doc: Document
) -> StoredFile:
    return storage.put(key, renderer(doc))


class RenderPool:
    """Renders documents in up to ``workers`` processes with ``renderer`` (a picklable function:
    :func:`~ils.jobs.pdf.render.render_document` unless a test or benchmark brings another)."""

    def __init__(self, workers: int, renderer: Renderer = render_document) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self.renderer = renderer
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def _pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise IlsJobsError("the render pool is closed")
        if self._executor is None:
            # spawn, not fork: the parent runs an event loop and threads that a fork would copy.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm,
            )
        return self._executor

    async def render(self, doc: Document) -> bytes:
        """The PDF of ``doc``, rendered in a pool process; the renderer's own error if it raises."""
        return await self._run(self.renderer, doc)

    async def render_and_store(self, doc: Document, storage: FileStorage, key: str) -> StoredFile:
        """Render ``doc`` and put it in ``storage`` (picklable, e.g. a local directory) under
        ``key``, both in a pool process."""
        return await self._run(_render_and_store, self.renderer, storage, key, doc)

    async def _run(self, fn: Callable[..., R], *args: object) -> R:
        pool = self._pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, fn, *args)
        except BrokenProcessPool as exc:
            if self._executor is pool:
                self._executor = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise RenderPoolBroken(f"a render process died: {exc}") from exc

    async def close(self) -> None:
        """Stop the processes (renders under way finish first)."""
        self._closed = True
        pool, self._executor = self._executor, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
