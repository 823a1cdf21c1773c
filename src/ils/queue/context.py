"""What a handler gets besides its payload: the job's identity, attempt, logger and tools.

Handlers must be idempotent (delivery is at-least-once, guard 8): ``ctx.job_id`` is stable across
attempts and redeliveries and is the key to make side effects happen once. A flow's parent reads
its children's results in ``ctx.flow`` (:mod:`ils.queue.children`). ``ctx.resources`` holds
the process's resources the job type declared, typed by the application (``JobContext[R]``); the
engine only asks a :class:`ResourceProvider` for the view of a job type's declared kinds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, ParamSpec, Protocol, TypeVar

from ils.errors import ConfigurationError, JobCancelled

if TYPE_CHECKING:
    from ils.queue.children import ChildrenView

P = ParamSpec("P")
R = TypeVar("R")
ResourcesT = TypeVar("ResourcesT")


class ResourceProvider(Protocol):
    """Where a worker or the inline fallback gets a job's resources: the view of the ``kinds``
    its job type declared (built on first use)."""

    def scoped(self, kinds: frozenset[str]) -> Any: ...


class NoResources:
    """The provider of a process without resources: fine for job types that declare none."""

    def scoped(self, kinds: frozenset[str]) -> Any:
        if kinds:
            raise ConfigurationError(
                f"this process has no resources, and the job needs {', '.join(sorted(kinds))}"
            )
        return None


@dataclass
class JobContext(Generic[ResourcesT]):
    job_id: str
    queue: str
    name: str
    attempt: int
    max_attempts: int
    logger: logging.LoggerAdapter[logging.Logger]
    inline: bool = False
    resources: ResourcesT = None  # type: ignore[assignment]  # None for jobs declaring none
    #: A flow parent's children (results, failures, a batch's counts); None when run inline.
    flow: ChildrenView | None = None
    _progress: Callable[[Any], Awaitable[Any]] | None = None
    _log: Callable[[str], Awaitable[Any]] | None = None
    _cancelled: Callable[[], bool] | None = None
    _cancel_wait: Callable[[], Awaitable[Any]] | None = None

    @property
    def is_last_attempt(self) -> bool:
        return self.attempt >= self.max_attempts

    @property
    def cancelled(self) -> bool:
        """True once an admin (or shutdown) asked this job to stop; check it in long loops."""
        return self._cancelled() if self._cancelled else False

    def check_cancelled(self, step: str = "") -> None:
        """Raise :class:`JobCancelled` if this job was asked to stop: call it at the handler's
        natural steps (before sending an email, between products, before rendering), where
        stopping leaves nothing half done. The job then ends ``cancelled``, not failed."""
        if self.cancelled:
            raise JobCancelled(f"cancelled {step}".strip() if step else "cancelled on request")

    async def wait_cancelled(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for a cancel request; True if one came. For handlers that
        wait on something else meanwhile, race this against it."""
        if self.cancelled:
            return True
        if self._cancel_wait is None:
            await asyncio.sleep(timeout_s)
            return False
        try:
            await asyncio.wait_for(self._cancel_wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def progress(self, value: int | float | dict[str, Any]) -> None:
        """Report progress (a percentage or a dict); shown by the admin views."""
        if self._progress is not None:
            await self._progress(value)

    async def log(self, line: str) -> None:
        """Append a line to the job's own log, kept with the job in Redis."""
        self.logger.info(line)
        if self._log is not None:
            await self._log(line)

    async def run_sync(self, fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run blocking or CPU-bound work off the event loop (guard 7)."""
        return await asyncio.to_thread(fn, *args, **kwargs)
