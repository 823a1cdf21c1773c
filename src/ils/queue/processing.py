"""How a job's run ends, for the worker runtime: completed, snoozed, cancelled, failed to be
retried, or failed for good — and then recorded as a dead letter before BullMQ is told.

A run that raised is settled by :class:`Endings` as one of (BullMQ's own ``DelayedError`` and
``WaitingChildrenError``, a handler's "I moved this job", pass through untouched):

- **snoozed** (:class:`~ils.errors.RetryLater`): moved back to delayed, no attempt used;
- **cancelled**: an admin asked to stop it while it ran (the handler saw ``ctx.cancelled`` and
  raised, whatever it raised) or the handler raised :class:`~ils.errors.JobCancelled` itself.
  It ends *completed* on BullMQ, its return value marked
  (:func:`ils.queue.states.cancelled_result`): not failed, not retried, not dead-lettered;
- **failed for good**: :class:`~ils.errors.GiveUp` (an unknown type, a payload that does not
  validate, a row gone) or the last attempt's error. The dead letter is recorded first
  (:mod:`ils.queue.dead_letters`), then BullMQ fails the job; a worker killed in between leaves
  the job active, BullMQ's stall recovery runs it again, and recording again updates the same
  row (one per queue and job id);
- **failed, to be retried**: any other error while attempts remain. The first such failure's
  time is kept in Redis, so the dead letter can say when the job first failed.

Why a cancelled job is *completed with a mark* rather than *failed with a marker*: BullMQ's
failed set is what Node dashboards paint red and count as errors, what "retry all failed" and
the dead-letter sweep act on, and what alerts watch. A deliberate stop is none of those. Kept
completed, a Node dashboard shows it finished with its return value
``{"_ilsCancelled": {"reason": ..., "at": ms}}``; our admin layer shows it as ``cancelled``
(:func:`ils.queue.states.shown_state`).
"""

from __future__ import annotations

import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from bullmq.custom_errors import DelayedError, UnrecoverableError, WaitingChildrenError

from ils.errors import GiveUp, JobCancelled, RetryLater
from ils.queue.context import JobContext
from ils.queue.metrics import Outcome
from ils.queue.states import cancelled_result
from ils.queue.tenancy import job_company, without_company

log = logging.getLogger("ils.worker")

#: The abort reason of a cancel an admin asked for (a forced shutdown aborts with another).
CANCEL_REASON = "cancelled by an admin"
#: How many characters of a failure's stack trace a dead letter keeps.
STACK_MAX = 20_000


@dataclass(frozen=True)
class FailedJob:
    """What is kept of a job that failed for good: which job, whose, its payload (without the
    company stamp), why (reason and stack trace) and after how many attempts."""

    queue: str
    name: str
    job_id: str
    company_id: int | None
    payload: Any
    reason: str
    stack: str
    attempts: int


@dataclass(frozen=True)
class Failure(FailedJob):
    """A job that failed for good, as the worker saw it, and when: what a dead letter records."""

    failed_at_ms: int


class DeadLetterSink(Protocol):
    """Where the runtime records jobs that failed for good (:class:`ils.queue.dead_letters.
    DeadLetters`); recording twice for one queue and job id must keep one record."""

    async def record(self, failure: Failure) -> Any: ...

    async def note_failed_attempt(self, queue: str, job_id: str, at_ms: int) -> None: ...


class DeadLettersOnDemand:
    """A :class:`DeadLetterSink` that makes the real one (the database's, on SQLAlchemy) at the
    first job that fails: a worker whose jobs all succeed never loads it."""

    def __init__(self, make: Callable[[], DeadLetterSink]) -> None:
        self._make = make

    async def record(self, failure: Failure) -> Any:
        return await self._make().record(failure)

    async def note_failed_attempt(self, queue: str, job_id: str, at_ms: int) -> None:
        await self._make().note_failed_attempt(queue, job_id, at_ms)


@dataclass(frozen=True)
class Ending:
    """How a run that raised ends: the metrics outcome (None: not counted), and either the error
    to hand BullMQ or the value to complete the job with."""

    outcome: Outcome | None
    error: BaseException | None = None
    value: Any = None


def failure_of(
    queue: str, job: Any, reason: str, stack: str, attempts: int, failed_at_ms: int
) -> Failure:
    """The dead letter's record of BullMQ's ``job`` failing for good (its stack trace cut to
    its last :data:`STACK_MAX` characters)."""
    return Failure(
        queue=queue,
        name=str(job.name),
        job_id=str(job.id),
        company_id=job_company(job.data),
        payload=without_company(job.data),
        reason=reason,
        stack=stack[-STACK_MAX:],
        attempts=attempts,
        failed_at_ms=failed_at_ms,
    )


class Endings:
    """Settles runs that raised (see the module's docstring); ``dead_letters`` may be None (a
    process without a database keeps failed jobs in BullMQ only)."""

    def __init__(self, dead_letters: DeadLetterSink | None = None) -> None:
        self.dead_letters = dead_letters

    async def settle(
        self,
        queue: str,
        job: Any,
        token: str,
        ctx: JobContext[Any],
        exc: Exception,
        asked_to_cancel: bool,
    ) -> Ending:
        if isinstance(exc, DelayedError | WaitingChildrenError):
            return Ending(None, exc)  # BullMQ's own "moved elsewhere" signals: its to handle
        if isinstance(exc, RetryLater):
            due = int(time.time() * 1000 + exc.delay_s * 1000)
            await job.moveToDelayed(due, token)
            return Ending(None, DelayedError(str(exc)))
        if asked_to_cancel or isinstance(exc, JobCancelled):
            reason = str(exc) if isinstance(exc, JobCancelled) else CANCEL_REASON
            log.info("job %s %s/%s cancelled: %s", job.id, queue, job.name, reason)
            return Ending(None, value=cancelled_result(reason, int(time.time() * 1000)))
        if isinstance(exc, GiveUp):
            await self._dead(queue, job, exc, ctx.attempt)
            return Ending("failed", UnrecoverableError(str(exc)))
        if ctx.is_last_attempt:
            await self._dead(queue, job, exc, ctx.attempt)
            return Ending("failed", exc)
        if self.dead_letters is not None:
            try:
                await self.dead_letters.note_failed_attempt(
                    queue, str(job.id), int(time.time() * 1000)
                )
            except Exception as err:  # a missing first-failure time is no reason to fail more
                log.debug("first failure of %s/%s not noted: %s", queue, job.id, err)
        return Ending("retried", exc)

    async def _dead(self, queue: str, job: Any, exc: BaseException, attempts: int) -> None:
        """Record the dead letter before BullMQ fails the job. When recording fails (the
        database is down) the job still fails: it stays in BullMQ's failed set, and the error
        is logged loudly rather than turned into another retry."""
        if self.dead_letters is None:
            return
        stack = "".join(traceback.format_exception(exc))
        now = int(time.time() * 1000)
        try:
            failure = failure_of(queue, job, str(exc) or type(exc).__name__, stack, attempts, now)
            await self.dead_letters.record(failure)
        except Exception as err:
            log.error("job %s %s/%s not recorded as a dead letter: %s", job.id, queue, job.name,
                      err)  # fmt: skip
