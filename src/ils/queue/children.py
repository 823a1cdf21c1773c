"""What a flow's parent sees of its children while it runs (``ctx.flow``): their results, their
failures, a batch's counts; and the worker's step that skips a parent whose children failed,
when its flow says ``skip``.

BullMQ keeps a parent's children beside its job hash (:mod:`ils.queue.keys`): the pending ones in
``:dependencies``, the completed ones with their return values in ``:processed``, the failed
ones it was told to ignore with their reasons in ``:failed``, and those that failed it in
``:unsuccessful``. Each names a child by its job key, ``<prefix>:<queue>:<job id>``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bullmq import Queue

from ils.queue import keys
from ils.queue.keys import split_job_key

#: A parent's data field saying what its failed children do to it, when the worker decides it
#: (``{"onChildFailure": "skip"}``; see :mod:`ils.queue.flows`).
FLOW_FIELD = "_ilsFlow"
#: A batch callback's data field: ``{"total": <jobs in the batch>}``.
BATCH_FIELD = "_ilsBatch"


def _value(raw: Any) -> Any:
    try:
        return json.loads(raw)
    except (TypeError, ValueError):
        return raw


@dataclass(frozen=True)
class ChildOutcome:
    """One finished child: its queue, job id and name, and its return value or failure reason."""

    queue: str
    job_id: str
    name: str | None
    completed: bool
    value: Any

    @property
    def key(self) -> str:
        return f"{self.queue}/{self.job_id}"


class ChildrenView:
    """The children of one parent job, read when asked (nothing is read for a job that never
    asks, so every job gets one)."""

    def __init__(self, queue: Queue, job_id: str) -> None:
        self._queue = queue
        self.job_id = job_id
        self.client = queue.client
        self.prefix = queue.prefix

    # The keys are built when read: a worker makes a view for every job it runs.
    @property
    def processed(self) -> str:
        return keys.job_processed(self._queue, self.job_id)

    @property
    def failed(self) -> str:
        return keys.job_failed_children(self._queue, self.job_id)

    @property
    def unsuccessful(self) -> str:
        return keys.job_unsuccessful(self._queue, self.job_id)

    @property
    def pending(self) -> str:
        return keys.job_dependencies(self._queue, self.job_id)

    async def counts(self) -> dict[str, int]:
        """How many children completed, failed (for good) and are still pending."""
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hlen(self.processed)
            pipe.hlen(self.failed)
            pipe.zcard(self.unsuccessful)
            pipe.scard(self.pending)
            completed, ignored, unsuccessful, pending = await pipe.execute()
        return {
            "completed": int(completed),
            "failed": int(ignored) + int(unsuccessful),
            "pending": int(pending),
        }

    async def failures(self) -> dict[str, str]:
        """The failed children (``<queue>/<job id>``) and their reasons."""
        raw = await self.client.hgetall(self.failed)
        return {"/".join(split_job_key(self.prefix, str(k))): str(v) for k, v in raw.items()}

    async def outcomes(self) -> list[ChildOutcome]:
        """Every finished child with its name and result, completed ones first (for flows of
        a few jobs; a batch's callback reads :meth:`counts`)."""
        processed, failed = await self._finished()
        found = [(k, True, v) for k, v in processed.items()]
        found += [(k, False, v) for k, v in failed.items()]
        async with self.client.pipeline(transaction=False) as pipe:
            for key, _, _ in found:
                pipe.hget(key, "name")
            names = await pipe.execute()
        out = []
        for (key, completed, raw), name in zip(found, names, strict=True):
            queue, job_id = split_job_key(self.prefix, key)
            value = _value(raw) if completed else str(raw)
            out.append(ChildOutcome(queue, job_id, name and str(name), completed, value))
        return out

    async def result_of(self, queue: str, name: str) -> Any:
        """The return value of the completed child of type ``queue/name`` (the first, if it has
        several); None when no such child completed."""
        for outcome in await self.outcomes():
            if outcome.completed and (outcome.queue, outcome.name) == (queue, name):
                return outcome.value
        return None

    async def _finished(self) -> tuple[Mapping[str, Any], Mapping[str, Any]]:
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.hgetall(self.processed)
            pipe.hgetall(self.failed)
            processed, failed = await pipe.execute()
        return (
            {str(k): v for k, v in processed.items()},
            {str(k): v for k, v in failed.items()},
        )


def skips_on_failure(data: Any) -> bool:
    """Whether a parent's data says to skip it when a child failed (its flow's ``skip``)."""
    mark = data.get(FLOW_FIELD) if isinstance(data, Mapping) else None
    return isinstance(mark, Mapping) and mark.get("onChildFailure") == "skip"


async def skipped_result(data: Any, view: ChildrenView | None) -> dict[str, Any] | None:
    """The result of a parent skipped because children failed, or None when it runs."""
    if view is None or not skips_on_failure(data):
        return None
    failures = await view.failures()
    if not failures:
        return None
    return {"skipped": True, "failedChildren": sorted(failures)}
