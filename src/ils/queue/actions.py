"""What an operator can do to jobs and queues: retry, remove, promote, cancel, clean, pause,
resume, and override a queue's rate limit or concurrency at run time.

Reached through :class:`ils.queue.admin.QueueAdmin` (``admin.actions``). Each action checks the
job's state first and raises :class:`JobStateConflict` when it does not apply, so a caller gets
"job 7 is active, not failed" rather than a silent no-op.

Every action takes the viewer's :class:`~ils.queue.tenancy.ViewerScope`: a job of another company
is :class:`JobNotFound` (checked before its state, so nothing about it leaks), and queue-wide
actions (clean, pause, resume, overrides) raise :class:`PermissionDenied` unless the scope spans
every company; retrying "all failed" retries the scope's own failed jobs.

Run-time overrides use BullMQ's global settings in the queue's meta hash, which every worker's
fetch script reads: a global rate limit replaces the configured one while set; a global
concurrency caps the jobs running at once across all workers (each worker still runs at most
its configured concurrency).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aredis
from bullmq import Job, Queue
from redis.exceptions import RedisError

from ils.errors import BrokerUnavailable, JobStateConflict
from ils.queue.browse import visible_job
from ils.queue.flow_cancel import CancelResult, FlowCanceller
from ils.queue.states import CANCELLABLE_STATES, FINAL_STATES, FinalState, shown_state
from ils.queue.tenancy import PLATFORM, ViewerScope, company_page, job_company, unindex_job
from ils.queue.undecodable import job_from_id

CLEAN_BATCH = 1_000


@dataclass(frozen=True)
class Overrides:
    """A queue's run-time overrides; ``None`` where the configured value applies."""

    rate_max: int | None
    rate_duration_ms: int | None
    concurrency: int | None

    def to_dict(self) -> dict[str, Any]:
        return {"rate_max": self.rate_max, "rate_duration_ms": self.rate_duration_ms,
                "concurrency": self.concurrency}  # fmt: skip


@dataclass(frozen=True)
class Override:
    """A run-time override of a queue: what it is called, and the ``Queue`` methods that lift it
    and set it."""

    what: str
    lift: Callable[[Queue], Awaitable[Any]]
    apply: Callable[..., Awaitable[Any]]


RATE_LIMIT = Override("a queue's rate limit", Queue.removeGlobalRateLimit, Queue.setGlobalRateLimit)
CONCURRENCY = Override(
    "a queue's concurrency", Queue.removeGlobalConcurrency, Queue.setGlobalConcurrency
)


class QueueActions:
    """The actions on the queues that ``queue(name)`` returns (the admin's own Queue objects);
    ``control()`` is the deployment's server, where cancel requests go (every worker reads them
    there, whichever server its queues are on)."""

    def __init__(
        self, queue: Callable[[str], Queue], prefix: str, control: Callable[[], aredis.Redis]
    ) -> None:
        self.queue = queue
        self.prefix = prefix
        self.control = control

    async def _job(
        self, queue: str, job_id: str, scope: ViewerScope, *states: str
    ) -> tuple[Queue, Job, str]:
        q = self.queue(queue)
        job = visible_job(await job_from_id(q, job_id), queue, job_id, scope)
        state = str(await q.getJobState(job_id))
        if states and state not in states:
            raise JobStateConflict(f"job {job_id} is {state}, not {' or '.join(states)}")
        return q, job, state

    async def retry(self, queue: str, job_id: str, scope: ViewerScope = PLATFORM) -> str:
        """Send a failed job back to waiting, its attempts starting afresh."""
        async with _broker_errors():
            _, job, _ = await self._job(queue, job_id, scope, "failed")
            await job.retry("failed")
            return "waiting"

    async def retry_all_failed(self, queue: str, scope: ViewerScope = PLATFORM) -> int:
        """Every failed job of ``queue`` that ``scope`` sees back to waiting; how many."""
        async with _broker_errors():
            q = self.queue(queue)
            if scope.company_id is not None:
                return await self._retry_company_failed(q, scope.company_id)
            count = int(await q.getJobCountByTypes("failed"))
            if count:
                await q.retryJobs({"state": "failed", "count": CLEAN_BATCH})
            return count

    async def _retry_company_failed(self, q: Queue, company_id: int) -> int:
        retried = 0
        _, ids = await company_page(q, company_id, "failed", 0, CLEAN_BATCH)
        for job_id in ids:
            job = await job_from_id(q, job_id)
            if job is None or job_company(job.data) != company_id:
                continue
            try:
                await job.retry("failed")
            except Exception as exc:  # retried or removed meanwhile: not this call's to retry
                if isinstance(exc, RedisError):
                    raise
                continue
            retried += 1
        return retried

    async def remove(self, queue: str, job_id: str, scope: ViewerScope = PLATFORM) -> None:
        """Delete a job that is not running (an active one holds a lock: cancel it instead)."""
        async with _broker_errors():
            q, job, state = await self._job(queue, job_id, scope)
            if state == "active":
                raise JobStateConflict(f"job {job_id} is active: cancel it, then remove it")
            await job.remove()
            await unindex_job(q, job_id, job_company(job.data))

    async def promote(self, queue: str, job_id: str, scope: ViewerScope = PLATFORM) -> None:
        """Run a delayed job now."""
        async with _broker_errors():
            _, job, _ = await self._job(queue, job_id, scope, "delayed")
            await job.promote()

    async def cancel(self, queue: str, job_id: str, scope: ViewerScope = PLATFORM) -> CancelResult:
        """Cancel a job that has not finished, whatever its type: one not yet running (waiting,
        prioritized, delayed) is removed (outcome ``"removed"``); an active one's worker is
        asked to stop it (``"cancelling"``): the handler sees ``ctx.cancelled`` at its next step
        and the job ends ``cancelled`` (see :mod:`ils.queue.processing`). A parent waiting for
        its children (a flow's, a batch's callback) is cancelled with its pending children, to
        any depth, within ``scope`` (``"cancelling"``; see :mod:`ils.queue.flow_cancel`); the
        result lists every job touched."""
        async with _broker_errors():
            _, job, state = await self._job(queue, job_id, scope)
            if state not in CANCELLABLE_STATES:
                shown = shown_state(state, job.returnvalue)
                raise JobStateConflict(f"job {job_id} is {shown}: it has ended, not cancelled")
            canceller = FlowCanceller(self.queue, self.prefix, self.control())
            return await canceller.cancel(queue, job, state, scope)

    async def clean(
        self, queue: str, state: FinalState, older_than_s: int, scope: ViewerScope = PLATFORM
    ) -> int:
        """Delete ``state`` jobs finished more than ``older_than_s`` ago; how many went."""
        scope.require_all_companies("cleaning a queue")
        if state not in FINAL_STATES:
            raise ValueError("state must be completed or failed")
        if older_than_s < 0:
            raise ValueError("older_than_s must be >= 0")
        removed = 0
        async with _broker_errors():
            q = self.queue(queue)
            while True:
                ids = await q.clean(older_than_s * 1000, CLEAN_BATCH, state)
                removed += len(ids)
                if len(ids) < CLEAN_BATCH:
                    return removed

    async def pause(self, queue: str, scope: ViewerScope = PLATFORM) -> None:
        scope.require_all_companies("pausing a queue")
        async with _broker_errors():
            await self.queue(queue).pause()

    async def resume(self, queue: str, scope: ViewerScope = PLATFORM) -> None:
        scope.require_all_companies("resuming a queue")
        async with _broker_errors():
            await self.queue(queue).resume()

    async def set_rate_limit(
        self,
        queue: str,
        max_jobs: int | None,
        duration_ms: int = 1000,
        scope: ViewerScope = PLATFORM,
    ) -> None:
        """At most ``max_jobs`` per ``duration_ms`` across all workers; ``None`` goes back to the
        configured limit."""
        values = None if max_jobs is None else {"max_jobs": max_jobs, "duration_ms": duration_ms}
        await self._override(queue, scope, RATE_LIMIT, values)

    async def set_concurrency(
        self, queue: str, concurrency: int | None, scope: ViewerScope = PLATFORM
    ) -> None:
        """At most ``concurrency`` jobs at once across all workers; ``None`` lifts the cap."""
        values = None if concurrency is None else {"concurrency": concurrency}
        await self._override(queue, scope, CONCURRENCY, values)

    async def _override(
        self, queue: str, scope: ViewerScope, override: Override, values: dict[str, int] | None
    ) -> None:
        """Set ``override`` on ``queue`` to ``values`` (each at least 1), or lift it (None)."""
        scope.require_all_companies(override.what)
        async with _broker_errors():
            q = self.queue(queue)
            if values is None:
                await override.lift(q)
                return
            if min(values.values()) < 1:
                raise ValueError(f"{' and '.join(values)} must be >= 1")
            await override.apply(q, *values.values())

    async def overrides(self, queue: str) -> Overrides:
        async with _broker_errors():
            q = self.queue(queue)
            limit = await q.getGlobalRateLimit()
            concurrency = await q.getGlobalConcurrency()
        return Overrides(
            rate_max=int(limit["max"]) if limit else None,
            rate_duration_ms=int(limit["duration"]) if limit else None,
            concurrency=int(concurrency) if concurrency is not None else None,
        )


@contextlib.asynccontextmanager
async def _broker_errors() -> AsyncIterator[None]:
    """Turns a Redis error into :class:`BrokerUnavailable`."""
    try:
        yield
    except RedisError as exc:
        raise BrokerUnavailable(f"queue action failed: {exc}") from exc
