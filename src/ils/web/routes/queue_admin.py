"""The queue admin API's reads beyond the seed's three: live workers, throughput, recurring jobs,
job lists, job details and a job's flow tree (the actions are
:mod:`ils.web.routes.queue_actions`).

For the three admin roles, each in the viewer scope of :func:`ils.web.routes.queue.viewer_scope`,
which :class:`ils.queue.admin.QueueAdmin` applies (not these routes): a company's admin lists its
company's jobs only (another company's job is a 404, like a missing one), and ``company_admin``
sees every field that may carry personal data masked.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from ils.errors import JobNotFound
from ils.queue.browse import MAX_PAGE_SIZE, JobSummary
from ils.queue.settings import QUEUE_NAMES
from ils.queue.states import JobState
from ils.web.auth.dependencies import DbSession
from ils.web.routes.queue import (
    DENIED,
    UNREACHABLE,
    Admin,
    JobId,
    QueueName,
    Scope,
    WorkerProcessOut,
    admin_route,
)

router = APIRouter(prefix="/api/queue", tags=["queue admin"])


class JobSummaryOut(BaseModel, JobSummary):
    # A row of a job list: the fields of ils.queue.browse.JobSummary (taken from it, not
    # repeated here), in its order, with the API's descriptions.

    timestamp: int = Field(description="created, epoch ms")
    delay: int = Field(description="ms")
    company_id: int | None = Field(description="the job's company; None for system work")


class JobPageOut(BaseModel):
    queue: str
    state: str
    page: int
    page_size: int
    total: int
    jobs: list[JobSummaryOut]


class JobDetailOut(JobSummaryOut):
    queue: str
    data: Any = Field(description="the payload; personal fields masked for company_admin")
    options: dict[str, Any]
    return_value: Any = Field(description="masked for company_admin, as are the failure reason, "
                              "stack trace, logs and non-numeric progress")  # fmt: skip
    stacktrace: list[str]
    logs: list[str] = Field(description="the newest lines, oldest first")
    log_count: int
    parent: dict[str, str] | None
    children: list[dict[str, Any]]


class ThroughputPointOut(BaseModel):
    minute: int = Field(description="start of the minute, epoch seconds")
    completed: int
    failed: int
    retried: int


class ThroughputOut(BaseModel):
    minutes: int
    queues: dict[str, list[ThroughputPointOut]]


@admin_route(router, "GET", "/workers", list[WorkerProcessOut], DENIED)
async def list_workers(scope: Scope, admin: Admin) -> list[dict[str, Any]]:
    """Live worker processes: host, pid, queues, jobs in progress"""
    return [w.to_dict(scope) for w in await admin.workers()]


@admin_route(router, "GET", "/throughput", ThroughputOut, DENIED)
async def throughput(
    scope: Scope,
    admin: Admin,
    minutes: Annotated[
        int, Query(ge=1, le=1440, description="60: the last hour; 1440: a day")
    ] = 60,
) -> dict[str, Any]:
    """Completed, failed and retried jobs per minute per queue"""
    series = {q: [vars(p) for p in await admin.throughput(q, minutes, scope)] for q in QUEUE_NAMES}
    return {"minutes": minutes, "queues": series}


class SchedulerOut(BaseModel):
    id: str
    queue: str
    name: str | None
    pattern: str | None = Field(description="cron pattern, in ``tz``")
    every: int | None = Field(description="interval in ms, for schedulers without a pattern")
    tz: str | None
    next: int | None = Field(description="next run, epoch ms")
    data: Any = Field(description="the payload of the jobs it adds")


@admin_route(router, "GET", "/schedules", list[SchedulerOut], {**DENIED, 503: UNREACHABLE})
async def list_schedules(scope: Scope, admin: Admin) -> list[dict[str, Any]]:
    """Recurring jobs (BullMQ job schedulers) of every queue, e.g. the 08:00 briefings"""
    return [s for q in QUEUE_NAMES for s in await admin.schedulers(q, scope)]


@admin_route(router, "GET", "/{queue}/jobs", JobPageOut)
async def list_jobs(
    scope: Scope,
    admin: Admin,
    queue: QueueName,
    state: Annotated[JobState, Query()] = "failed",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> dict[str, Any]:
    """A queue's jobs in one state, newest first"""
    return (await admin.browse.jobs(queue, state, page, page_size, scope)).to_dict()


@admin_route(router, "GET", "/{queue}/jobs/{job_id}", JobDetailOut)
async def job_detail(
    scope: Scope, admin: Admin, session: DbSession, queue: QueueName, job_id: JobId
) -> dict[str, Any]:
    """One job in full: payload, options, logs, result or failure; state `outbox` for a job
    written with its transaction that the relay has not yet added to Redis"""
    try:
        found = await admin.browse.detail(queue, job_id, scope=scope)
    except JobNotFound:
        try:
            found = await admin.outbox.detail(session, scope, queue, job_id)
        except JobNotFound:  # relayed in between: its queue has it now
            found = await admin.browse.detail(queue, job_id, scope=scope)
    detail = found.to_dict()
    detail["priority"] = int(detail["options"].get("priority") or 0)
    return detail


class FlowNodeOut(BaseModel):
    id: str
    queue: str
    name: str | None
    state: str | None
    failed_reason: str | None = Field(description="masked for company_admin")
    finished_on: int | None = Field(description="epoch ms")
    company_id: int | None
    hidden: bool = Field(description="a job outside the viewer's scope: its id and queue only")
    on_child_failure: str | None = Field(
        description="what a child failing for good does to this job: fail, skip or continue"
    )
    children_total: int = Field(description="all its children; at most 50 are listed")
    children: list[FlowNodeOut]


@admin_route(router, "GET", "/{queue}/jobs/{job_id}/flow", FlowNodeOut)
async def job_flow(scope: Scope, admin: Admin, queue: QueueName, job_id: JobId) -> dict[str, Any]:
    """The flow a job belongs to, from its root: each job's state, each parent's children"""
    return (await admin.flows.tree(queue, job_id, scope)).to_dict()
