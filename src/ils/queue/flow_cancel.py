"""Cancelling a job together with what hangs below it in its flow: a parent waiting for its
children (a flow's parent, a batch's callback) is cancelled with its unfinished children, to any
depth, within the viewer's scope.

Each job is cancelled as a single one is (:meth:`ils.queue.actions.QueueActions.cancel`): one not
running yet is removed, an active one's worker is asked to stop it (:mod:`ils.queue.cancel`). A
parent still waiting for children is neither: it is *marked* first (the
:data:`~ils.queue.states.CANCELLED_MARK` field in its data), then its children are cancelled.
BullMQ moves the parent to waiting once its last child is removed or has ended, as it always
does, and the worker that takes it ends it ``cancelled`` without running its handler
(:mod:`ils.queue.executor`). Marking before touching the children is what keeps the parent from
running: the removal of its last child is what makes it due.

A child of another company (possible in a tree a platform job started) is left alone in a
company's scope, and counted in :attr:`CancelResult.left_alone`; its parent then ends cancelled
once that child has ended.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio as aredis
from bullmq import Job, Queue
from redis.exceptions import RedisError

from ils.errors import ConfigurationError, JobStateConflict
from ils.queue import keys
from ils.queue.cancel import request_cancel
from ils.queue.states import CANCELLABLE_STATES, CANCELLED_MARK
from ils.queue.tenancy import ViewerScope, job_company, unindex_job
from ils.queue.undecodable import job_from_id

#: The reason a parent cancelled with its flow ends with.
FLOW_CANCEL_REASON = "cancelled with its flow by an admin"
#: The levels of a tree followed down (as :mod:`ils.queue.flow_tree` shows them).
MAX_DEPTH = 10
#: The children of one parent cancelled side by side.
AT_ONCE = 64


@dataclass
class CancelResult:
    """What one cancel did: the outcome for the job asked for (``removed``: it had not run and
    is gone; ``cancelling``: it or its children are being stopped, and it ends ``cancelled``),
    and every job it touched, as ``<queue>/<job id>``."""

    queue: str
    job_id: str
    outcome: str = "cancelling"
    #: Jobs not running yet, removed (they never run).
    removed: list[str] = field(default_factory=list)
    #: Active jobs whose worker was asked to stop them; each ends ``cancelled``.
    stopping: list[str] = field(default_factory=list)
    #: Parents waiting for children, marked: each ends ``cancelled`` without running.
    marked: list[str] = field(default_factory=list)
    #: Children outside the viewer's scope (or on a queue this application does not know).
    left_alone: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class FlowCanceller:
    """Cancels jobs of the queues that ``queue(name)`` returns, with their pending children;
    an active job is asked to stop through ``control`` (the deployment's server)."""

    def __init__(self, queue: Callable[[str], Queue], prefix: str, control: aredis.Redis) -> None:
        self.queue = queue
        self.prefix = prefix
        self.control = control

    async def cancel(self, queue: str, job: Job, state: str, scope: ViewerScope) -> CancelResult:
        """Cancel ``job`` (already found in ``scope``, in ``state``) and its pending children."""
        result = CancelResult(queue, str(job.id))
        await self._cancel(queue, job, state, scope, result, MAX_DEPTH)
        me = f"{queue}/{job.id}"
        result.outcome = "removed" if me in result.removed else "cancelling"
        for found in (result.removed, result.stopping, result.marked):
            found.sort()
        return result

    async def _cancel(
        self, queue: str, job: Job, state: str, scope: ViewerScope, result: CancelResult,
        depth: int,
    ) -> None:  # fmt: skip
        q = self.queue(queue)
        job_id = str(job.id)
        me = f"{queue}/{job_id}"
        if state == "waiting-children":
            await self._mark(job)
            result.marked.append(me)
            if depth > 0:
                await self._cancel_children(q, job_id, scope, result, depth - 1)
            # A child that ended between our state read and the mark may have made it due.
            if str(await q.getJobState(job_id)) == "active":
                await request_cancel(self.control, self.prefix, queue, job_id)
            return
        if state != "active":
            try:
                await job.remove()
            except Exception as exc:
                if isinstance(exc, RedisError):
                    raise
                # Taken by a worker between the state read and the removal: it holds a lock
                # now, so it is cancelled as an active job is.
                state = str(await q.getJobState(job_id))
                if state != "active":
                    raise JobStateConflict(f"job {job_id} is {state}: not cancelled") from exc
            else:
                await unindex_job(q, job_id, job_company(job.data))
                result.removed.append(me)
                return
        await request_cancel(self.control, self.prefix, queue, job_id)
        result.stopping.append(me)

    async def _mark(self, job: Job) -> None:
        """Write the cancel mark into a waiting parent's data (read by the worker that takes it)."""
        data = dict(job.data) if isinstance(job.data, dict) else {}
        data[CANCELLED_MARK] = {"reason": FLOW_CANCEL_REASON, "at": int(time.time() * 1000)}
        await job.updateData(data)

    async def _cancel_children(
        self, q: Queue, job_id: str, scope: ViewerScope, result: CancelResult, depth: int
    ) -> None:
        """Cancel a parent's pending children (BullMQ's ``:dependencies`` set of job keys),
        :data:`AT_ONCE` at a time: a batch's thousands of jobs are round trips, not work."""
        pending = sorted(str(k) for k in await q.client.smembers(keys.job_dependencies(q, job_id)))
        for first in range(0, len(pending), AT_ONCE):
            chunk = pending[first : first + AT_ONCE]
            await asyncio.gather(*(self._cancel_child(k, scope, result, depth) for k in chunk))

    async def _cancel_child(
        self, key: str, scope: ViewerScope, result: CancelResult, depth: int
    ) -> None:
        child_queue, child_id = keys.split_job_key(self.prefix, key)
        try:
            cq = self.queue(child_queue)
        except ConfigurationError:  # a queue of another application (a Node producer's)
            result.left_alone += 1
            return
        child = await job_from_id(cq, child_id)
        if child is None:
            return  # ended and removed meanwhile
        if not scope.sees(job_company(child.data)):
            result.left_alone += 1
            return
        state = str(await cq.getJobState(child_id))
        if state in CANCELLABLE_STATES:
            await self._cancel(child_queue, child, state, scope, result, depth)
