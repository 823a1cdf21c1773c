"""Declaring a job type once: :func:`job` turns a handler into a :class:`JobDef` that carries its
queue, wire name, typed payload, description, options and the resources it uses.

Everything else derives from the declaration: the registry entry (``JobDef.job_type``), the typed
enqueue helper (``JobDef.helper``, keyword arguments typed by the payload model), the JSON schema
(``JobType.schema``) and the docs table. Modules that declare job types are listed by the
application (``ils.jobs.JOB_MODULES``, ``Settings.imports``); :func:`declared_in` finds their
declarations. Node producers are unaffected: the wire name and the camelCase JSON are the same.
``JobDef.step`` makes one :class:`Step` of a flow or a batch (:mod:`ils.queue.flows`).
"""

from __future__ import annotations

import difflib
import types
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import (
    TYPE_CHECKING,
    Any,
    Generic,
    Literal,
    ParamSpec,
    Protocol,
    TypeVar,
    cast,
    get_args,
)

from ils.errors import ConfigurationError
from ils.queue.executor import validate_payload
from ils.queue.producer import Enqueued, EnqueueOptions, Producer, producer_for
from ils.queue.producer_bulk import options_list, validate_all
from ils.queue.registry import JobType, Payload

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

P = ParamSpec("P")
PayloadT = TypeVar("PayloadT", bound=Payload)


def merge_options(
    defaults: EnqueueOptions | None, chosen: EnqueueOptions | None
) -> EnqueueOptions | None:
    """``defaults`` (a job type's, worked out from its payload) under what the caller ``chosen``."""
    if defaults is None or chosen is None:
        return chosen or defaults
    return defaults.model_copy(update=chosen.model_dump(exclude_none=True))


#: What a failed child does to the step that waits for it (see :meth:`Step.after`).
OnChildFailure = Literal["fail", "skip", "continue"]
ON_CHILD_FAILURE: tuple[str, ...] = get_args(OnChildFailure)


@dataclass(frozen=True)
class Step:
    """One job of a flow or a batch: a declared type, its validated payload and options, and the
    steps it waits for (its children) with what a failed one does to it."""

    job_type: JobType
    payload: Payload
    options: EnqueueOptions | None = None
    children: tuple[Step, ...] = ()
    on_child_failure: OnChildFailure = "fail"

    def after(self, *children: Step, on_child_failure: OnChildFailure = "fail") -> Step:
        """This step, run once ``children`` have completed. A child that fails for good (its
        attempts spent) makes this step ``fail`` (it fails without running), ``skip`` (it
        completes without running, its result naming the failed children) or ``continue`` (it
        runs once the others are done, and finds the failures in ``ctx.flow``)."""
        if on_child_failure not in ON_CHILD_FAILURE:
            near = difflib.get_close_matches(str(on_child_failure), ON_CHILD_FAILURE, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigurationError(
                f"on_child_failure must be one of {', '.join(ON_CHILD_FAILURE)}, "
                f"not {on_child_failure!r}{hint}"
            )
        return replace(self, children=self.children + children, on_child_failure=on_child_failure)

    def using(self, options: EnqueueOptions) -> Step:
        """This step with ``options`` over its own (priority, attempts, delay, job id)."""
        return replace(self, options=merge_options(self.options, options))

    def walk(self) -> Iterator[Step]:
        """This step and every step under it, parents before their children."""
        yield self
        for child in self.children:
            yield from child.walk()


@dataclass(frozen=True)
class Binding:
    """How a helper enqueues, apart from the payload: the job's company, options, the caller's
    session (its transaction's outbox) and the producer."""

    company_id: int | None = None
    options: EnqueueOptions | None = None
    session: AsyncSession | None = None
    producer: Producer | None = None
    preset: tuple[tuple[str, Any], ...] = ()


class JobDef(Generic[P, PayloadT]):
    """One declared job type: its registry entry and the typed ways to enqueue it."""

    def __init__(
        self,
        payload: Callable[P, PayloadT],
        job_type: JobType,
        options_for: Callable[[PayloadT], EnqueueOptions | None] | None = None,
    ) -> None:
        self.payload = payload
        self.job_type = job_type
        self.options_for = options_for

    @property
    def key(self) -> str:
        return self.job_type.key

    async def send(
        self,
        payload: PayloadT | dict[str, Any],
        *,
        company_id: int | None = None,
        options: EnqueueOptions | None = None,
        session: AsyncSession | None = None,
        producer: Producer | None = None,
    ) -> Enqueued:
        """Validate and enqueue one job (see :meth:`Producer.enqueue`): as ``company_id``'s,
        through ``session``'s outbox when given, with ``producer`` or the one bound to the
        session. Raises :class:`InvalidJobPayload` naming each bad field."""
        return await self._send(payload, Binding(company_id, options, session, producer))

    async def _send(self, data: PayloadT | dict[str, Any], how: Binding) -> Enqueued:
        typed = validate_payload(self.job_type, data)
        options = how.options
        if self.options_for is not None:
            options = merge_options(self.options_for(cast(PayloadT, typed)), options)
        producer = producer_for(how.producer, how.session)
        return await producer.enqueue(
            self.job_type.queue, self.job_type.name, typed, options,
            session=how.session, company_id=how.company_id,
        )  # fmt: skip

    async def send_many(
        self,
        payloads: Sequence[PayloadT | dict[str, Any]],
        *,
        company_id: int | None = None,
        options: EnqueueOptions | Sequence[EnqueueOptions | None] | None = None,
        session: AsyncSession | None = None,
        producer: Producer | None = None,
    ) -> list[Enqueued]:
        """:meth:`send` for many payloads at once (see :meth:`Producer.enqueue_many`): all
        validated first (:class:`InvalidJobPayload` names the bad one's index and field, and
        nothing is enqueued), then one outbox statement or pipelined adds. ``options`` is one
        for all, or one (or None) per payload."""
        how = Binding(company_id, None, session, producer)
        return await self._send_many(payloads, how, options)

    async def _send_many(
        self,
        payloads: Sequence[PayloadT | dict[str, Any]],
        how: Binding,
        chosen: EnqueueOptions | Sequence[EnqueueOptions | None] | None = None,
    ) -> list[Enqueued]:
        typed = validate_all(self.job_type, payloads)
        if chosen is None:
            chosen = how.options
        options: EnqueueOptions | Sequence[EnqueueOptions | None] | None = chosen
        if self.options_for is not None:
            per_job = options_list(chosen, len(typed), self.key)
            options_for = self.options_for
            options = [
                merge_options(options_for(cast(PayloadT, t)), o)
                for t, o in zip(typed, per_job, strict=True)
            ]
        producer = producer_for(how.producer, how.session)
        return await producer.enqueue_many(
            self.job_type.queue, self.job_type.name, typed, options,
            session=how.session, company_id=how.company_id,
        )  # fmt: skip

    @property
    def helper(self) -> Helper[P]:
        """The enqueue helper: the payload's fields as keyword arguments."""
        return Helper(self, Binding())

    def step(self, *args: P.args, **kwargs: P.kwargs) -> Step:
        """One step of a flow or a batch: a job of this type with the payload's fields given by
        name (validated now: :class:`InvalidJobPayload` names each bad field)."""
        if args:
            raise TypeError(f"{self.key}: pass the payload's fields by name")
        typed = validate_payload(self.job_type, kwargs)
        options = self.options_for(cast(PayloadT, typed)) if self.options_for else None
        return Step(self.job_type, typed, options)

    def __call__(self, payload: PayloadT, ctx: Any) -> Any:
        """Run the handler (as a worker would, minus the pipeline around it)."""
        handler = self.job_type.handler
        if handler is None:
            raise TypeError(f"{self.key} has no handler")
        return handler(payload, ctx)

    def __repr__(self) -> str:
        return f"JobDef({self.key})"


class Sendable(Protocol[P]):
    """What a :class:`Helper` enqueues through: a job type's :class:`JobDef`, or a flow's
    :class:`~ils.queue.flows.FlowDef`."""

    @property
    def key(self) -> str: ...

    async def _send(self, data: Any, how: Binding) -> Enqueued: ...


class Helper(Generic[P]):
    """Enqueues jobs of one type (or one flow) from keyword arguments typed like the payload
    model's fields; :meth:`using` binds the company, options, session or producer."""

    def __init__(self, job_def: Sendable[P], binding: Binding) -> None:
        self.job_def = job_def
        self.binding = binding

    async def __call__(self, *args: P.args, **kwargs: P.kwargs) -> Enqueued:
        if args:
            raise TypeError(f"{self.job_def.key}: pass the payload's fields by name")
        preset = dict(self.binding.preset)
        if both := sorted(preset.keys() & kwargs.keys()):
            raise TypeError(f"{self.job_def.key}: this helper sets {', '.join(both)} itself")
        return await self.job_def._send(preset | kwargs, self.binding)

    async def many(self, fields: Iterable[Mapping[str, Any]]) -> list[Enqueued]:
        """Enqueue one job per mapping of payload fields, with this helper's bindings, at once
        (:meth:`JobDef.send_many`), e.g. a notification to each of a company's admins."""
        if not isinstance(self.job_def, JobDef):
            raise TypeError(f"{self.job_def.key}: a flow is sent one at a time")
        preset = dict(self.binding.preset)
        payloads = []
        for one in fields:
            if both := sorted(preset.keys() & one.keys()):
                raise TypeError(f"{self.job_def.key}: this helper sets {', '.join(both)} itself")
            payloads.append(preset | dict(one))
        return await self.job_def._send_many(payloads, self.binding)

    def preset(self, **fields: Any) -> Helper[P]:
        """This helper with some payload fields fixed, e.g. a fan-out's ``audience``."""
        b = self.binding
        merged = tuple((dict(b.preset) | fields).items())
        return Helper(self.job_def, Binding(b.company_id, b.options, b.session, b.producer, merged))

    def using(
        self,
        *,
        company_id: int | None = None,
        options: EnqueueOptions | None = None,
        session: AsyncSession | None = None,
        producer: Producer | None = None,
        dedup_key: str | None = None,
        dedup_ttl_s: float | None = None,
    ) -> Helper[P]:
        """This helper with the given bindings replaced, e.g.
        ``queue_invoice_pdf.using(session=s)(invoice_id=7)``; ``dedup_key`` (with its window
        ``dedup_ttl_s``) is the options' own, e.g. ``.using(dedup_key=f"resend:{order_id}",
        dedup_ttl_s=600)``: the same key enqueued again within the window runs once."""
        b = self.binding
        chosen = options or b.options
        dedup = {"dedup_key": dedup_key, "dedup_ttl_s": dedup_ttl_s}
        if any(v is not None for v in dedup.values()):
            base = (chosen or EnqueueOptions()).model_dump()
            chosen = EnqueueOptions(**base | {k: v for k, v in dedup.items() if v is not None})
        return Helper(self.job_def, Binding(
            b.company_id if company_id is None else company_id, chosen,
            session or b.session, producer or b.producer, b.preset,
        ))  # fmt: skip


def job(
    payload: Callable[P, PayloadT],
    *,
    queue: str,
    name: str,
    description: str,
    priority: int = 0,
    attempts: int | None = None,
    backoff_delay_ms: int | None = None,
    timeout_s: float | None = None,
    resources: tuple[str, ...] = (),
    options_for: Callable[[PayloadT], EnqueueOptions | None] | None = None,
) -> Callable[[Callable[[PayloadT, Any], Any]], JobDef[P, PayloadT]]:
    """Declare the decorated handler's job type.

    ``payload`` is the job's pydantic model (:class:`Payload`); ``priority`` follows BullMQ (1 is
    the highest); ``attempts``, ``backoff_delay_ms`` override the queue's; ``timeout_s`` bounds
    one run; ``resources`` names what the handler finds in ``ctx.resources``; ``options_for``
    works out default enqueue options from a payload (e.g. a priority or a dedup key).
    """
    model = payload
    if not (isinstance(model, type) and issubclass(model, Payload)):
        raise TypeError(f"job {queue}/{name}: payload must be a Payload model, not {model!r}")

    def declare(handler: Callable[[PayloadT, Any], Any]) -> JobDef[P, PayloadT]:
        job_type = JobType(
            queue, name, model, description, priority=priority, attempts=attempts,
            backoff_delay_ms=backoff_delay_ms, timeout_s=timeout_s,
            resources=frozenset(resources), handler=handler,
        )  # fmt: skip
        return JobDef(payload, job_type, options_for)

    return declare


def declared_in(module: types.ModuleType) -> Iterator[JobDef[Any, Any]]:
    """The job types ``module`` declares: its module-level :class:`JobDef` values, and those in
    its module-level tuples (a type declared on several queues)."""
    for value in vars(module).values():
        if isinstance(value, JobDef):
            yield value
        elif isinstance(value, tuple):
            yield from (v for v in value if isinstance(v, JobDef))
