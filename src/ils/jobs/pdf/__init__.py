"""The pdf queue's worker: order sheets, invoices, receipts, lab work tickets and examination
forms drawn with reportlab in a process pool, stored as files with a row in ``documents``.

:func:`register_pdf_handlers` attaches the handlers to a registry; :class:`RenderPool` (built by
:class:`ils.bootstrap.JobSystem`, sized from the pdf queue's concurrency) renders for them.

The handlers (and with them the database models) are imported only by
:func:`register_pdf_handlers`: a render process imports this package before the renderer, and
needs reportlab, not SQLAlchemy.
"""

from __future__ import annotations

from ils.jobs.pdf.pool import RenderPool, RenderPoolBroken
from ils.jobs.pdf.render import render_document
from ils.queue.registry import Registry

__all__ = [
    "RenderPool",
    "RenderPoolBroken",
    "register_pdf_handlers",
    "render_document",
]


def register_pdf_handlers(registry: Registry) -> None:
    """Attach the handler of every PDF job type; they render with the resources' pool."""
    from ils.jobs.pdf.handlers import HANDLERS

    for name, handler in HANDLERS.items():
        registry.set_handler("pdf", name, handler)
