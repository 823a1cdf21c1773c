"""The job registry: each job type's queue, wire name, payload model, default options and handler.

Wire names are kebab-case as the seed names them, so Node BullMQ producers can feed our workers.
Payload models accept both snake_case and the camelCase Node producers send, and put camelCase
on the wire. Job types are declared once with :func:`ils.queue.declare.job`; a registry is built by
a factory (``ils.jobs.build_registry``) from the declaring modules; there is no global. The
factory may hand the registry a loader that imports a queue's declaring modules when the queue is
first asked about, so a worker of one queue does not import the others' job modules.
"""

from __future__ import annotations

import difflib
import functools
import inspect
import typing
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

from ils.errors import ConfigurationError, UnknownJobType

if TYPE_CHECKING:
    from ils.queue.context import JobContext

Handler = Callable[[Any, "JobContext[Any]"], Awaitable[Any] | Any]


class Personal:
    """Marks a payload field as personal data (a name, an address, free text about a patient):
    ``Annotated[str, Personal()]``. Admin views mask such fields for roles that may watch the
    queues but not read the data."""

    def __repr__(self) -> str:
        return "Personal()"


MASK = "[personal data hidden]"


class Payload(BaseModel):
    """Base of every job payload: strict fields, camelCase on the wire, snake_case in Python.

    A payload model's validator is built when it first validates (or shows its schema), not when
    its class is made: every process's registry declares every job type, and a worker validates
    the payloads of its own queues and of the jobs it enqueues only.
    """

    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
    )

    def to_wire(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    @classmethod
    def personal_fields(cls) -> frozenset[str]:
        """The names of the fields marked :class:`Personal`, in both spellings (wire and Python)."""
        names: set[str] = set()
        for name, info in cls.model_fields.items():
            if any(isinstance(m, Personal) for m in info.metadata) or _marked(info.annotation):
                names.update({name, info.alias or name})
        return frozenset(names)


def _marked(annotation: Any) -> bool:
    """Whether :class:`Personal` is inside ``annotation`` (e.g. ``Annotated[..] | None``)."""
    if typing.get_origin(annotation) is typing.Annotated and any(
        isinstance(m, Personal) for m in annotation.__metadata__
    ):
        return True
    return any(_marked(arg) for arg in typing.get_args(annotation))


@dataclass(frozen=True)
class JobType:
    """One kind of job. ``priority`` follows BullMQ: 1 is highest, 0 means none. ``attempts`` and
    ``backoff_delay_ms`` override the queue's; ``timeout_s`` bounds one run of the handler;
    ``resources`` names what its handler uses (the process builds those for its queues)."""

    queue: str
    name: str
    payload: type[Payload]
    description: str = ""
    priority: int = 0
    attempts: int | None = None
    backoff_delay_ms: int | None = None
    timeout_s: float | None = None
    resources: frozenset[str] = frozenset()
    handler: Handler | None = None

    @property
    def key(self) -> str:
        return f"{self.queue}/{self.name}"

    def schema(self) -> dict[str, Any]:
        """The JSON schema of the job's data as producers send it (camelCase names)."""
        schema: dict[str, Any] = self.payload.model_json_schema(by_alias=True)
        return schema

    @functools.cached_property
    def handler_is_async(self) -> bool:
        # Asked for every job: worked out once per job type (the dataclass is replaced, not
        # mutated, when a handler is attached, so the cache never goes stale).
        return self.handler is not None and inspect.iscoroutinefunction(self.handler)


def mask_personal(job_type: JobType | None, data: Any) -> Any:
    """``data`` with the job type's personal fields replaced by :data:`MASK`; all of it masked
    when the job type is unknown (nothing says which of its fields are safe)."""
    if not isinstance(data, dict):
        return data if data is None else MASK
    if job_type is None:
        return dict.fromkeys(data, MASK)
    personal = job_type.payload.personal_fields()
    return {k: (MASK if k in personal and v is not None else v) for k, v in data.items()}


class Registry:
    """The job types a process knows, keyed by ``queue/name``.

    With ``load`` (``load(queues)`` adds the job types of ``queues``), a queue's types are added
    when the queue is first asked about (:meth:`get`, :meth:`knows`, :meth:`for_queue`...);
    iterating or counting loads every queue. Without it, the registry holds what :meth:`add`
    gave it."""

    def __init__(
        self, queues: tuple[str, ...], load: Callable[[tuple[str, ...]], None] | None = None
    ) -> None:
        self.queues = queues
        self._types: dict[str, JobType] = {}
        self._load = load
        self._loaded: set[str] = set() if load is not None else set(queues)

    def load(self, queues: Iterable[str]) -> None:
        """Make sure the job types of ``queues`` are added (a no-op for loaded queues)."""
        missing = tuple(q for q in queues if q not in self._loaded)
        if missing and self._load is not None:
            self._load(missing)
            self._loaded.update(missing)

    def loaded_types(self) -> list[JobType]:
        """The job types added so far, loading nothing."""
        return list(self._types.values())

    def add(self, job_type: JobType) -> JobType:
        if job_type.queue not in self.queues:
            near = difflib.get_close_matches(job_type.queue, self.queues, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise ConfigurationError(
                f"job type {job_type.name}: unknown queue {job_type.queue!r}{hint}"
            )
        if job_type.key in self._types:
            raise ConfigurationError(f"job type {job_type.key} is registered twice")
        self._types[job_type.key] = job_type
        return job_type

    def get(self, queue: str, name: str) -> JobType:
        self.load((queue,))
        try:
            return self._types[f"{queue}/{name}"]
        except KeyError:
            known = [t.name for t in self.for_queue(queue)]
            near = difflib.get_close_matches(name, known, n=1)
            hint = f"; did you mean '{near[0]}'?" if near else ""
            raise UnknownJobType(f"no job type {queue}/{name}{hint}") from None

    def knows(self, queue: str, name: str) -> bool:
        """Whether ``queue/name`` is a registered job type."""
        self.load((queue,))
        return f"{queue}/{name}" in self._types

    def set_handler(self, queue: str, name: str, handler: Handler) -> None:
        """Replace the function that runs jobs of ``queue/name`` (tests swap in their own)."""
        job_type = self.get(queue, name)
        self._types[job_type.key] = replace(job_type, handler=handler)

    def resources_of(self, queue: str, name: str) -> frozenset[str]:
        """What the handler of ``queue/name`` uses; nothing for a type this process lacks."""
        self.load((queue,))
        job_type = self._types.get(f"{queue}/{name}")
        return job_type.resources if job_type is not None else frozenset()

    def resources_for(self, queues: Iterable[str]) -> frozenset[str]:
        """Everything the job types of ``queues`` use."""
        wanted = set(queues)
        self.load(wanted)
        return frozenset(r for t in self._types.values() if t.queue in wanted for r in t.resources)

    def for_queue(self, queue: str) -> list[JobType]:
        self.load((queue,))
        return [t for t in self._types.values() if t.queue == queue]

    def __iter__(self) -> Iterator[JobType]:
        self.load(self.queues)
        return iter(list(self._types.values()))

    def __len__(self) -> int:
        self.load(self.queues)
        return len(self._types)
