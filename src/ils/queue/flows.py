"""Flows and batches: jobs that wait for other jobs, on BullMQ's ``FlowProducer`` and its
parents and children.

A flow is declared once, like a job type: :func:`flow` on a function that turns the flow's typed
payload into a tree of :class:`~ils.queue.declare.Step` (``email.invoice.step(...).after(
pdf.invoice.step(...))``); its helper enqueues the whole tree at once, through the caller's
outbox when given a session. A parent runs only once its children completed; a child that fails
for good makes its parent ``fail``, ``skip`` or ``continue``, as the parent's step declares
(:meth:`Step.after`). ``fail`` is BullMQ's ``failParentOnFailure``; ``skip`` and ``continue`` are
its ``ignoreDependencyOnFailure`` (the failure kept in the parent's failed-children hash), and
for ``skip`` the parent's data carries :data:`FLOW_FIELD`, which the worker reads before the
handler (:mod:`ils.queue.children`).

A batch (:func:`send_batch`) is a one-level flow whose parent is the completion callback and
whose children are the batch's jobs, each ``continue``: the callback runs once the last of them
ended, completed or failed, and reads their counts in ``ctx.flow``. Its trigger is exactly once
because it is the last child's own move to completed or failed, in one BullMQ Lua script that
also takes the child out of the parent's pending set: a worker killed at any point either did
not finish that script (the child is retried and finishes later) or did (the callback is due),
and never both. The callback job itself is delivered at least once, like every job, so it is
idempotent by job id. The batch id is the callback's job id.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, ParamSpec, TypeVar

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from ils.errors import ConfigurationError, InvalidJobPayload
from ils.queue.children import BATCH_FIELD, FLOW_FIELD
from ils.queue.declare import Binding, Helper, OnChildFailure, Step
from ils.queue.executor import payload_errors
from ils.queue.flow_store import FlowJob, check_one_server
from ils.queue.producer import Enqueued, EnqueueOptions, Producer, job_options, owner, producer_for
from ils.queue.registry import Payload
from ils.queue.settings import Settings
from ils.queue.tenancy import with_company

P = ParamSpec("P")
PayloadT = TypeVar("PayloadT", bound=Payload)

#: The most jobs one batch takes (one MULTI/EXEC adds them all).
MAX_BATCH = 100_000

# BullMQ's option, on a child, for each policy of its parent.
CHILD_OPTION: dict[str, str] = {
    "fail": "failParentOnFailure",
    "skip": "ignoreDependencyOnFailure",
    "continue": "ignoreDependencyOnFailure",
}


def build_tree(
    root: Step,
    settings: Settings,
    company_id: int | None = None,
    marks: Mapping[str, Any] | None = None,
) -> FlowJob:
    """``root`` and its children as BullMQ's ``FlowProducer`` takes them: each job's options
    (the queue's, its type's, its step's), its job id fixed now (the root's: its step's
    ``job_id`` or a new one; a child's: its parent's with its place appended), its company
    stamped (``company_id``, else its payload's own), and ``marks`` added to the root's data."""
    opts = root.options
    root_id = opts.job_id if opts is not None and opts.job_id else uuid.uuid4().hex
    tree = _node(root, settings, company_id, root_id, None)
    check_one_server(tree, settings)  # refused now, not when the relay adds it
    if marks:
        tree["data"] |= dict(marks)
    return tree


def _node(
    step: Step,
    settings: Settings,
    company_id: int | None,
    job_id: str,
    parent_policy: OnChildFailure | None,
) -> FlowJob:
    job_type = step.job_type
    opts = job_options(job_type, settings.queue(job_type.queue), step.options)
    opts["jobId"] = opts.get("jobId") or job_id
    if parent_policy is not None:
        opts[CHILD_OPTION[parent_policy]] = True
    data = with_company(step.payload.to_wire(), owner(step.payload, company_id))
    node: FlowJob = {"name": job_type.name, "queueName": job_type.queue, "data": data}
    if step.children:
        if step.on_child_failure == "skip":
            data[FLOW_FIELD] = {"onChildFailure": "skip"}
        node["children"] = [
            _node(child, settings, company_id, f"{opts['jobId']}-{i}", step.on_child_failure)
            for i, child in enumerate(step.children)
        ]
    node["opts"] = opts
    return node


async def send_flow(
    root: Step,
    *,
    company_id: int | None = None,
    session: AsyncSession | None = None,
    producer: Producer | None = None,
) -> Enqueued:
    """Enqueue the flow ``root`` (see :meth:`Producer.enqueue_flow`): as ``company_id``'s,
    through ``session``'s outbox when given; ``job_id`` is the root's."""
    chosen = producer_for(producer, session)
    tree = build_tree(root, chosen.settings, company_id)
    return await chosen.enqueue_flow(tree, session)


async def send_batch(
    callback: Step,
    jobs: Sequence[Step],
    *,
    company_id: int | None = None,
    session: AsyncSession | None = None,
    producer: Producer | None = None,
) -> Enqueued:
    """Enqueue ``jobs`` as one batch whose ``callback`` runs once, when the last of them has
    ended (completed or failed for good); ``job_id`` is the batch id (the callback's job id).
    The callback finds the outcome in ``ctx.flow`` (:meth:`ChildrenView.counts`)."""
    if not 1 <= len(jobs) <= MAX_BATCH:
        raise ConfigurationError(f"a batch takes 1 to {MAX_BATCH} jobs, not {len(jobs)}")
    if callback.children:
        raise ConfigurationError("a batch's callback has no children of its own")
    chosen = producer_for(producer, session)
    root = callback.after(*jobs, on_child_failure="continue")
    tree = build_tree(root, chosen.settings, company_id, {BATCH_FIELD: {"total": len(jobs)}})
    return await chosen.enqueue_flow(tree, session)


class FlowDef(Generic[P, PayloadT]):
    """One declared flow: its name, payload model, description, and the function that turns a
    payload into its steps; :attr:`helper` enqueues it from the payload's fields."""

    def __init__(
        self,
        payload: Callable[P, PayloadT],
        name: str,
        description: str,
        build: Callable[[PayloadT], Step],
    ) -> None:
        self.payload = payload
        self.name = name
        self.description = description
        self.build = build

    @property
    def key(self) -> str:
        return f"flow/{self.name}"

    def steps(self, payload: PayloadT | Mapping[str, Any]) -> Step:
        """The flow's steps for ``payload`` (validated: :class:`InvalidJobPayload`)."""
        model: type[Payload] = self.payload  # type: ignore[assignment]
        if isinstance(payload, model):
            return self.build(payload)
        try:
            typed = model.model_validate(payload)
        except ValidationError as exc:
            raise InvalidJobPayload(self.key, payload_errors(model, exc)) from exc
        return self.build(typed)  # type: ignore[arg-type]

    async def send(
        self,
        payload: PayloadT | Mapping[str, Any],
        *,
        company_id: int | None = None,
        options: EnqueueOptions | None = None,
        session: AsyncSession | None = None,
        producer: Producer | None = None,
    ) -> Enqueued:
        """Enqueue the flow for ``payload``; ``options`` apply to its root job."""
        return await self._send(payload, Binding(company_id, options, session, producer))

    async def _send(self, data: Any, how: Binding) -> Enqueued:
        root = self.steps(data)
        if how.options is not None:
            root = root.using(how.options)
        return await send_flow(
            root, company_id=how.company_id, session=how.session, producer=how.producer
        )

    @property
    def helper(self) -> Helper[P]:
        """The enqueue helper: the flow payload's fields as keyword arguments."""
        return Helper(self, Binding())

    def __repr__(self) -> str:
        return f"FlowDef({self.name})"


def flow(
    payload: Callable[P, PayloadT], *, name: str, description: str
) -> Callable[[Callable[[PayloadT], Step]], FlowDef[P, PayloadT]]:
    """Declare the decorated function's flow: it gets the flow's typed ``payload`` and returns
    the root :class:`Step` (the job that runs last), its children made with ``.after(...)``."""
    model = payload
    if not (isinstance(model, type) and issubclass(model, Payload)):
        raise TypeError(f"flow {name}: payload must be a Payload model, not {model!r}")

    def declare(build: Callable[[PayloadT], Step]) -> FlowDef[P, PayloadT]:
        return FlowDef(payload, name, description, build)

    return declare


def describe_step(step: Step) -> str:
    """The shape of a flow's steps, e.g. ``email/invoice <- [pdf/invoice] (fail)``."""
    if not step.children:
        return step.job_type.key
    children = ", ".join(describe_step(c) for c in step.children)
    return f"{step.job_type.key} <- [{children}] ({step.on_child_failure})"


def flows_in(values: Mapping[str, Any]) -> Iterator[FlowDef[Any, Any]]:
    """The flows among a module's values (``vars(module)``)."""
    return (v for v in values.values() if isinstance(v, FlowDef))
