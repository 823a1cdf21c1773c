"""Test-only renderers for the render pool: one that fails, one that blocks on a named pipe
until the test releases it. Top-level functions, so they pickle into the pool's processes."""

from __future__ import annotations

from pathlib import Path

from ils.jobs.pdf.content import Document
from ils.jobs.pdf.render import render_document


class RendererBroke(RuntimeError):
    pass


def failing(doc: Document) -> bytes:
    raise RendererBroke(f"renderer broke on {type(doc).__name__}")


def blocking(gate: Path, doc: Document) -> bytes:
    """Note the run, say it started through ``gate/started``, block reading ``gate/release``
    (a FIFO: the read returns only once the test writes), then render for real."""
    with (gate / "runs").open("a") as fh:
        fh.write("run\n")
    with (gate / "started").open("w") as fh:
        fh.write("started\n")
    with (gate / "release").open() as fh:
        fh.read()
    return render_document(doc)
