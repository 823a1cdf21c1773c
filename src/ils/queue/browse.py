"""Listing and inspecting jobs for the admin API and dashboard: a queue's jobs in one state,
paged, newest first; one job in full (payload, options, attempts, progress, logs, return value,
failure reason and stack traces, timestamps, and for flows its parent and children).

Every read takes the viewer's :class:`~ils.queue.tenancy.ViewerScope`: a company sees only its
own jobs (listed from its index, never by reading every company's), another company's job is
"not found" like a missing one, and a masked scope gets :func:`~ils.queue.masking.mask_job`'s view.
Reached through :class:`ils.queue.admin.QueueAdmin` (``admin.browse``), never from routes directly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from typing import Any

from bullmq import Job, Queue
from redis.exceptions import RedisError

from ils.errors import BrokerUnavailable, JobNotFound
from ils.queue import keys
from ils.queue.masking import mask_job
from ils.queue.registry import JobType
from ils.queue.states import check_state, shown_state
from ils.queue.tenancy import PLATFORM, ViewerScope, company_page, job_company, without_company
from ils.queue.undecodable import job_from_id, jobs_in

#: The job type of ``(queue, name)``, or None for a name the registry does not know.
TypeOf = Callable[[str, str], JobType | None]

MAX_PAGE_SIZE = 200
MAX_LOG_LINES = 1_000


@dataclass(frozen=True)
class JobSummary:
    """One row of a job list."""

    id: str
    name: str
    state: str
    attempts_made: int
    attempts: int
    priority: int
    progress: Any
    failed_reason: str | None
    timestamp: int
    processed_on: int | None
    finished_on: int | None
    delay: int
    company_id: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class JobPage:
    queue: str
    state: str
    page: int
    page_size: int
    total: int
    jobs: list[JobSummary]

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "jobs": [j.to_dict() for j in self.jobs]}


@dataclass(frozen=True)
class JobDetail:
    """Everything kept of one job."""

    id: str
    queue: str
    name: str
    state: str
    data: Any
    options: dict[str, Any]
    attempts_made: int
    attempts: int
    progress: Any
    return_value: Any
    failed_reason: str | None
    stacktrace: list[str]
    logs: list[str]
    log_count: int
    timestamp: int
    processed_on: int | None
    finished_on: int | None
    delay: int
    parent: dict[str, str] | None
    children: list[dict[str, Any]]
    company_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _ms(value: Any) -> int | None:
    return int(value) if value else None


def job_fields(job: Job, state: str) -> dict[str, Any]:
    """The fields every view of a job (list row, full detail, the admin's
    :class:`~ils.queue.admin.JobView`) reads the same way from BullMQ's job; a completed job
    marked cancelled shows as ``cancelled``."""
    return {
        "id": str(job.id),
        "name": job.name,
        "state": shown_state(str(state), job.returnvalue),
        "attempts_made": int(job.attemptsMade or 0),
        "attempts": int((job.opts or {}).get("attempts") or 1),
        "progress": job.progress,
        "failed_reason": job.failedReason,
        "timestamp": int(job.timestamp or 0),
        "processed_on": _ms(job.processedOn),
        "finished_on": _ms(job.finishedOn),
    }


def _summary(job: Job, state: str) -> JobSummary:
    opts = job.opts or {}
    return JobSummary(
        **job_fields(job, state),
        priority=int(opts.get("priority") or 0),
        delay=int(opts.get("delay") or 0),
        company_id=job_company(job.data),
    )


def visible_job(job: Job | None, queue: str, job_id: str, scope: ViewerScope) -> Job:
    """``job`` if ``scope`` may see it; else :class:`JobNotFound`, worded as for a missing job
    (a company must not learn that another company's job exists)."""
    if job is None or not scope.sees(job_company(job.data)):
        raise JobNotFound(f"no job {job_id} in queue {queue}")
    return job


class JobBrowser:
    """Reads jobs of the queues that ``queue(name)`` returns (the admin's own Queue objects)."""

    def __init__(
        self, queue: Callable[[str], Queue], prefix: str, type_of: TypeOf = lambda q, n: None
    ) -> None:
        self.queue = queue
        self.prefix = prefix
        self.type_of = type_of

    def _masked_summary(self, queue: str, summary: JobSummary) -> JobSummary:
        view = mask_job(
            {"progress": summary.progress, "failed_reason": summary.failed_reason},
            self.type_of(queue, summary.name),
        )
        return replace(summary, **view)

    async def jobs(
        self,
        queue: str,
        state: str,
        page: int = 1,
        page_size: int = 50,
        scope: ViewerScope = PLATFORM,
    ) -> JobPage:
        """Jobs of ``queue`` in ``state`` that ``scope`` sees, newest first; ``page`` counts
        from 1."""
        check_state(state)
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page must be >= 1 and page_size 1..{MAX_PAGE_SIZE}")
        q = self.queue(queue)
        start = (page - 1) * page_size
        try:
            if scope.company_id is None:
                total, jobs = await asyncio.gather(
                    q.getJobCountByTypes(state),
                    jobs_in(q, state, start, start + page_size - 1),
                )
            else:
                total, ids = await company_page(q, scope.company_id, state, start, page_size)
                jobs = await asyncio.gather(*(job_from_id(q, job_id) for job_id in ids))
        except RedisError as exc:
            raise BrokerUnavailable(f"cannot list jobs: {exc}") from exc
        summaries = [_summary(job, state) for job in jobs if job is not None]
        if scope.company_id is not None:
            # A job may have moved on between the index read and its own: keep only its company's.
            summaries = [s for s in summaries if s.company_id == scope.company_id]
        if scope.mask:
            summaries = [self._masked_summary(queue, s) for s in summaries]
        return JobPage(queue, state, page, page_size, int(total), summaries)

    async def detail(
        self, queue: str, job_id: str, log_lines: int = 200, scope: ViewerScope = PLATFORM
    ) -> JobDetail:
        """One job in full, as ``scope`` may see it; :class:`JobNotFound` for a job of another
        company."""
        detail = await self._detail(queue, job_id, log_lines, scope)
        if not scope.mask:
            return detail
        return JobDetail(**mask_job(detail.to_dict(), self.type_of(queue, detail.name)))

    async def _detail(
        self, queue: str, job_id: str, log_lines: int, scope: ViewerScope
    ) -> JobDetail:
        q = self.queue(queue)
        try:
            job = visible_job(await job_from_id(q, job_id), queue, job_id, scope)
            state, logs = await asyncio.gather(
                q.getJobState(job_id),
                q.getJobLogs(job_id, -min(log_lines, MAX_LOG_LINES), -1, True),
            )
            children = await self._children(q, job_id)
        except RedisError as exc:
            raise BrokerUnavailable(f"cannot read job {queue}/{job_id}: {exc}") from exc
        opts = dict(job.opts or {})
        parent = None
        if job.parent:
            parent = {"id": str(job.parent.get("id")), "queue": str(job.parent.get("queueKey"))}
        return JobDetail(
            **job_fields(job, state),
            queue=queue,
            data=without_company(job.data),
            options=opts,
            return_value=job.returnvalue,
            stacktrace=[str(s) for s in (job.stacktrace or [])],
            logs=[str(line) for line in logs.get("logs", [])],
            log_count=int(logs.get("count", 0)),
            delay=int(opts.get("delay") or 0),
            parent=parent,
            children=children,
            company_id=job_company(job.data),
        )

    async def _children(self, q: Queue, job_id: str) -> list[dict[str, Any]]:
        """A flow parent's children: pending ones (``dependencies``) and finished ones
        (``processed``, with their return values), as BullMQ keeps them beside the job."""
        client = q.client
        pending, processed = await asyncio.gather(
            client.smembers(keys.job_dependencies(q, job_id)),
            client.hgetall(keys.job_processed(q, job_id)),
        )
        out = [{"key": str(k), "done": False} for k in sorted(pending)]
        out += [{"key": str(k), "done": True, "return_value": v} for k, v in processed.items()]
        return out
