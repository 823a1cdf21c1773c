"""A job's flow as the admin layer shows it: the tree it belongs to, from its root down, each job
with its queue, name, state and failure, and each parent with what a failed child does to it.

The root is found by following parents up from the job asked for; children are read from each
parent's sets (:mod:`ils.queue.children`), at most :data:`MAX_CHILDREN` per parent (a batch's
callback may have thousands: ``children_total`` says how many). The job asked for must be in the
viewer's scope (else :class:`JobNotFound`, as for a missing job); any other job of the tree that
is not is shown as ``hidden``, with its id and queue only. Failure reasons are masked for a
masked scope.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bullmq import Job, Queue
from redis.exceptions import RedisError

from ils.errors import BrokerUnavailable, ConfigurationError
from ils.queue import keys
from ils.queue.browse import TypeOf, visible_job
from ils.queue.children import skips_on_failure
from ils.queue.masking import mask_job
from ils.queue.tenancy import PLATFORM, ViewerScope, job_company
from ils.queue.undecodable import job_from_id

#: The children shown per parent, and the levels followed up and down.
MAX_CHILDREN = 50
MAX_DEPTH = 10


@dataclass
class FlowNode:
    """One job of a flow tree."""

    id: str
    queue: str
    name: str | None = None
    state: str | None = None
    failed_reason: str | None = None
    finished_on: int | None = None
    company_id: int | None = None
    hidden: bool = False
    on_child_failure: str | None = None
    children_total: int = 0
    children: list[FlowNode] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _policy(child_opts: dict[str, Any], parent_data: Any) -> str | None:
    """What a failed child does to its parent, from a child's options and the parent's data."""
    if child_opts.get("failParentOnFailure") or child_opts.get("fpof"):
        return "fail"
    if child_opts.get("ignoreDependencyOnFailure") or child_opts.get("idof"):
        return "skip" if skips_on_failure(parent_data) else "continue"
    if child_opts.get("continueParentOnFailure") or child_opts.get("cpof"):
        return "continue"
    return None  # BullMQ's default: the parent waits for good


class FlowReader:
    """Reads flow trees of the queues that ``queue(name)`` returns."""

    def __init__(self, queue: Callable[[str], Queue], prefix: str, type_of: TypeOf) -> None:
        self.queue = queue
        self.prefix = prefix
        self.type_of = type_of

    async def tree(self, queue: str, job_id: str, scope: ViewerScope = PLATFORM) -> FlowNode:
        """The flow of ``queue/job_id`` from its root (the job alone when it is in no flow).
        Raises :class:`JobNotFound`, :class:`BrokerUnavailable`."""
        try:
            job = visible_job(await job_from_id(self.queue(queue), job_id), queue, job_id, scope)
            root_queue, root = queue, job
            for _ in range(MAX_DEPTH):
                if not root.parent:
                    break
                up_queue, _ = keys.split_job_key(self.prefix, str(root.parent.get("queueKey")))
                up = await self._load(up_queue, str(root.parent.get("id")))
                if up is None:
                    break
                root_queue, root = up_queue, up
            return await self._node(root_queue, root, scope, MAX_DEPTH)
        except RedisError as exc:
            raise BrokerUnavailable(f"cannot read the flow of {queue}/{job_id}: {exc}") from exc

    async def _load(self, queue: str, job_id: str) -> Job | None:
        try:
            q = self.queue(queue)
        except ConfigurationError:  # a queue of another application (a Node producer's)
            return None
        return await job_from_id(q, job_id)

    async def _node(self, queue: str, job: Job, scope: ViewerScope, depth: int) -> FlowNode:
        job_id = str(job.id)
        company = job_company(job.data)
        if not scope.sees(company):
            return FlowNode(job_id, queue, hidden=True)
        q = self.queue(queue)
        state = str(await q.getJobState(job_id))
        reason = job.failedReason
        if scope.mask:
            reason = mask_job({"failed_reason": reason}, self.type_of(queue, job.name))[
                "failed_reason"
            ]
        node = FlowNode(
            job_id, queue, job.name, state, reason, int(job.finishedOn or 0) or None, company
        )
        children = await self._child_keys(q, job_id)
        node.children_total = len(children)
        if depth <= 0:
            return node
        for key in children[:MAX_CHILDREN]:
            child_queue, child_id = keys.split_job_key(self.prefix, key)
            child = await self._load(child_queue, child_id)
            if child is None:
                node.children.append(FlowNode(child_id, child_queue, hidden=True))
                continue
            if node.on_child_failure is None:
                node.on_child_failure = _policy(dict(child.opts or {}), job.data)
            node.children.append(await self._node(child_queue, child, scope, depth - 1))
        return node

    async def _child_keys(self, q: Queue, job_id: str) -> Sequence[str]:
        """A parent's children's job keys, sorted: pending, completed and failed ones."""
        client = q.client
        pending, processed, failed, unsuccessful = await asyncio.gather(
            client.smembers(keys.job_dependencies(q, job_id)),
            client.hkeys(keys.job_processed(q, job_id)),
            client.hkeys(keys.job_failed_children(q, job_id)),
            client.zrange(keys.job_unsuccessful(q, job_id), 0, -1),
        )
        return sorted({str(k) for k in (*pending, *processed, *failed, *unsuccessful)})
