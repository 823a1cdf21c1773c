"""The bench's no-op job type: one ``oma`` job whose handler does nothing (and its twin on the
``notification`` queue, for the sharding bench); and the callback of
the batch benchmark (``bench/batch_callback.py``), which counts its own runs.

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
# The same on the notification queue: the second queue of the sharding bench (bench/shards.py).
NOTIFY_NOOP = job(NoopPayload, queue="notification", name=JOB_NAME,
                  description="does nothing (benchmarks)")(noop)  # fmt: skip


def callback_runs_key(prefix: str) -> str:
    return f"{prefix}:bench:callback-runs"


async def batch_done(payload: NoopPayload, ctx: JobContext[None]) -> dict[str, Any]:
    """A batch's callback: counts its runs (under the bench's prefix) and returns the batch's
    outcome as its children's sets hold it."""
    assert ctx.flow is not None
    runs = await ctx.flow.client.incr(callback_runs_key(ctx.flow.prefix))
    return {"runs": runs, "counts": await ctx.flow.counts()}


BATCH_DONE = job(NoopPayload, queue=QUEUE, name="bench-batch-done",
                 description="a batch's callback (benchmarks)")(batch_done)  # fmt: skip


def payload_data(seq: int, blob: str) -> dict[str, Any]:
    """The job data, as our producer puts it on the wire and as the raw side sends it."""
    return {"seq": seq, "blob": blob}


def wire_bytes(blob: str, seq: int = 0) -> int:
    """How long one job's data is as JSON."""
    return len(json.dumps(payload_data(seq, blob)))


def filler(payload_bytes: int) -> str:
    """A filler string so that one job's JSON data is about ``payload_bytes`` long."""
    return "x" * max(0, payload_bytes - wire_bytes(""))
