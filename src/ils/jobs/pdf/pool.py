"""The render pool: PDF rendering in worker processes, off the event loop (guard 7).

One per process, sized from the pdf queue's concurrency (a job never waits for a free renderer),
built by :class:`ils.bootstrap.JobSystem` on :class:`ils.queue.pool.ProcessPool`. Documents go in
as plain data; :meth:`RenderPool.render_and_store` also writes the file from the pool process, so
the PDF's bytes never cross back to the event loop's process.
"""

from __future__ import annotations

from collections.abc import Callable

from ils.files import FileStorage, StoredFile
from ils.jobs.pdf.content import Document
from ils.jobs.pdf.render import render_document
from ils.queue.pool import ProcessPool, ProcessPoolBroken

Renderer = Callable[[Document], bytes]
RenderPoolBroken = ProcessPoolBroken


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
        self.pool = ProcessPool(workers, "render", initializer=_warm)
        self.workers = workers
        self.renderer = renderer

    async def render(self, doc: Document) -> bytes:
        """The PDF of ``doc``, rendered in a pool process; the renderer's own error if it raises."""
        return await self.pool.run(self.renderer, doc)

    async def render_and_store(self, doc: Document, storage: FileStorage, key: str) -> StoredFile:
        """Render ``doc`` and put it in ``storage`` (picklable, e.g. a local directory) under
        ``key``, both in a pool process."""
        return await self.pool.run(_render_and_store, self.renderer, storage, key, doc)

    async def close(self) -> None:
        """Stop the processes (renders under way finish first)."""
        await self.pool.close()
