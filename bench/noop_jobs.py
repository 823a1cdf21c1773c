"""The bench's no-op job type: one ``oma`` job whose handler does nothing.

Both sides of every comparison use the same queue, job name and payload built here. Our runtime
loads this module through ``Settings.imports`` (``bench/`` is on ``sys.path`` when
``bench/run.py`` runs, and spawned worker processes inherit that path), so
:func:`ils.jobs.build_registry` finds its declaration, :data:`NOOP`.
"""

from __future__ import annotations

import json
from typing import Any

from ils.queue.context import JobContext
from ils.queue.declare import job
from ils.queue.registry import Payload

QUEUE = "oma"
JOB_NAME = "bench-noop"
MODULE = __name__


class NoopPayload(Payload):
    """A sequence number and a filler string that sets the payload size."""

    seq: int
    blob: str = ""


async def noop(payload: NoopPayload, ctx: JobContext[None]) -> None:
    """Does nothing: what is measured is the job system around it."""
    return None


NOOP = job(NoopPayload, queue=QUEUE, name=JOB_NAME, description="does nothing (benchmarks)")(noop)


def payload_data(seq: int, blob: str) -> dict[str, Any]:
    """The job data, as our producer puts it on the wire and as the raw side sends it."""
    return {"seq": seq, "blob": blob}


def wire_bytes(blob: str, seq: int = 0) -> int:
    """How long one job's data is as JSON."""
    return len(json.dumps(payload_data(seq, blob)))


def filler(payload_bytes: int) -> str:
    """A filler string so that one job's JSON data is about ``payload_bytes`` long."""
    return "x" * max(0, payload_bytes - wire_bytes(""))
