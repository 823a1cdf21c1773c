"""The queue admin API beyond the seed's three reads: job lists and details, the actions on jobs
and queues, live workers and throughput.

For the three admin roles, each in the viewer scope of :func:`ils.web.routes.queue.viewer_scope`,
which :class:`ils.queue.admin.QueueAdmin` applies (not these routes): a company's admin lists and
acts on its company's jobs only (another company's job is a 404, like a missing one), queue-wide
actions are ``platform_admin``'s (403 for the others), and ``company_admin`` sees every field that
may carry personal data masked. Each action is written to the audit log (who, what, which queue
and job, from where) in the request's transaction before it is carried out, so an action that
fails or is refused leaves no entry and an entry that cannot be written stops the action.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from ils.domain.models.accounts import User
from ils.queue.admin import QueueAdmin
from ils.queue.browse import MAX_PAGE_SIZE
from ils.queue.settings import QUEUE_NAMES
from ils.queue.states import FinalState, JobState
from ils.web.auth.audit import record_audit
from ils.web.auth.dependencies import DbSession
from ils.web.errors import ErrorOut
from ils.web.quota_deps import BulkQuota
from ils.web.routes.queue import DENIED, Admin, QueueMonitor, Scope, WorkerProcessOut

router = APIRouter(prefix="/api/queue", tags=["queue admin"])

QueueName = Annotated[
    Literal["email", "pdf", "notification", "ai", "oma", "scheduled"],
    Path(description="one of the six queues"),
]
JobId = Annotated[str, Path(min_length=1, max_length=100)]
ACTION_ERRORS: dict[int | str, dict[str, Any]] = {
    **DENIED,
    404: {"model": ErrorOut, "description": "no such job (or another company's)"},
    409: {"model": ErrorOut, "description": "the action does not apply to the job's state"},
    503: {"model": ErrorOut, "description": "Redis is unreachable"},
}
assert set(QueueName.__origin__.__args__) == set(QUEUE_NAMES)  # type: ignore[attr-defined]


class JobSummaryOut(BaseModel):
    id: str
    name: str
    state: str
    attempts_made: int
    attempts: int
    priority: int
    progress: Any
    failed_reason: str | None
    timestamp: int = Field(description="created, epoch ms")
    processed_on: int | None
    finished_on: int | None
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


class ActionOut(BaseModel):
    ok: bool = True
    action: str
    queue: str
    job_id: str | None = None
    count: int | None = Field(None, description="jobs affected, where it is a bulk action")


class CleanIn(BaseModel):
    state: FinalState
    older_than_s: int = Field(ge=0, le=365 * 86_400, description="finished longer ago than this")


class RateLimitIn(BaseModel):
    max: int = Field(ge=1, le=1_000_000, description="jobs per window, across all workers")
    duration_ms: int = Field(1000, ge=1, le=86_400_000)


class ConcurrencyIn(BaseModel):
    concurrency: int = Field(ge=1, le=10_000, description="jobs at once, across all workers")


class OverridesOut(BaseModel):
    queue: str
    rate_max: int | None
    rate_duration_ms: int | None
    concurrency: int | None


class ThroughputPointOut(BaseModel):
    minute: int = Field(description="start of the minute, epoch seconds")
    completed: int
    failed: int
    retried: int


class ThroughputOut(BaseModel):
    minutes: int
    queues: dict[str, list[ThroughputPointOut]]


@router.get(
    "/workers",
    response_model=list[WorkerProcessOut],
    responses=DENIED,
    summary="Live worker processes: host, pid, queues, jobs in progress",
)
async def list_workers(scope: Scope, admin: Admin) -> list[dict[str, Any]]:
    return [w.to_dict(scope) for w in await admin.workers()]


@router.get(
    "/throughput",
    response_model=ThroughputOut,
    responses=DENIED,
    summary="Completed, failed and retried jobs per minute per queue",
)
async def throughput(
    scope: Scope,
    admin: Admin,
    minutes: Annotated[
        int, Query(ge=1, le=1440, description="60: the last hour; 1440: a day")
    ] = 60,
) -> dict[str, Any]:
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


@router.get(
    "/schedules",
    response_model=list[SchedulerOut],
    responses={**DENIED, 503: {"model": ErrorOut, "description": "Redis is unreachable"}},
    summary="Recurring jobs (BullMQ job schedulers) of every queue, e.g. the 08:00 briefings",
)
async def list_schedules(scope: Scope, admin: Admin) -> list[dict[str, Any]]:
    return [s for q in QUEUE_NAMES for s in await admin.schedulers(q, scope)]


@router.get(
    "/{queue}/jobs",
    response_model=JobPageOut,
    responses=ACTION_ERRORS,
    summary="A queue's jobs in one state, newest first",
)
async def list_jobs(
    scope: Scope,
    admin: Admin,
    queue: QueueName,
    state: Annotated[JobState, Query()] = "failed",
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> dict[str, Any]:
    return (await admin.browse.jobs(queue, state, page, page_size, scope)).to_dict()


@router.get(
    "/{queue}/jobs/{job_id}",
    response_model=JobDetailOut,
    responses=ACTION_ERRORS,
    summary="One job in full: payload, options, logs, result or failure",
)
async def job_detail(scope: Scope, admin: Admin, queue: QueueName, job_id: JobId) -> dict[str, Any]:
    detail = (await admin.browse.detail(queue, job_id, scope=scope)).to_dict()
    detail["priority"] = int(detail["options"].get("priority") or 0)
    return detail


async def _audit(
    session: DbSession,
    user: User,
    request: Request,
    action: str,
    queue: str,
    job_id: str | None = None,
    **detail: Any,
) -> None:
    await record_audit(
        session,
        user,
        f"queue.{action}",
        "job" if job_id else "queue",
        f"{queue}/{job_id}" if job_id else queue,
        {"queue": queue, **detail},
        request,
    )


@router.post(
    "/{queue}/jobs/{job_id}/{action}",
    response_model=ActionOut,
    responses=ACTION_ERRORS,
    summary="Retry a failed job, promote a delayed one, or "
    "ask the worker running an active one to cancel it",
)
async def job_action(
    user: QueueMonitor,
    scope: Scope,
    admin: Admin,
    session: DbSession,
    request: Request,
    queue: QueueName,
    job_id: JobId,
    action: Literal["retry", "promote", "cancel"],
    _quota: BulkQuota,
) -> ActionOut:
    await _audit(session, user, request, f"job_{action}", queue, job_id)
    if action == "retry":
        await admin.actions.retry(queue, job_id, scope)
    elif action == "promote":
        await admin.actions.promote(queue, job_id, scope)
    else:
        await admin.actions.cancel(queue, job_id, scope)
    return ActionOut(action=action, queue=queue, job_id=job_id)


@router.delete(
    "/{queue}/jobs/{job_id}",
    response_model=ActionOut,
    responses=ACTION_ERRORS,
    summary="Remove a job that is not running",
)
async def remove_job(
    user: QueueMonitor,
    scope: Scope,
    admin: Admin,
    session: DbSession,
    request: Request,
    queue: QueueName,
    job_id: JobId,
) -> ActionOut:
    await _audit(session, user, request, "job_remove", queue, job_id)
    await admin.actions.remove(queue, job_id, scope)
    return ActionOut(action="remove", queue=queue, job_id=job_id)


@router.post(
    "/{queue}/retry-failed",
    response_model=ActionOut,
    responses=ACTION_ERRORS,
    summary="Send every failed job of the queue back to waiting",
)
async def retry_failed(
    user: QueueMonitor,
    scope: Scope,
    admin: Admin,
    session: DbSession,
    request: Request,
    queue: QueueName,
    _quota: BulkQuota,
) -> ActionOut:
    await _audit(session, user, request, "retry_all_failed", queue)
    count = await admin.actions.retry_all_failed(queue, scope)
    return ActionOut(action="retry-failed", queue=queue, count=count)


@router.post(
    "/{queue}/clean",
    response_model=ActionOut,
    responses=ACTION_ERRORS,
    summary="Delete completed or failed jobs older than an age",
)
async def clean(
    user: QueueMonitor,
    scope: Scope,
    admin: Admin,
    session: DbSession,
    request: Request,
    queue: QueueName,
    body: CleanIn,
) -> ActionOut:
    await _audit(session, user, request, "clean", queue, **body.model_dump())
    count = await admin.actions.clean(queue, body.state, body.older_than_s, scope)
    return ActionOut(action="clean", queue=queue, count=count)


@router.post(
    "/{queue}/{action}",
    response_model=ActionOut,
    responses=ACTION_ERRORS,
    summary="Pause (workers stop taking its jobs) or resume a queue",
)
async def pause_or_resume(
    user: QueueMonitor,
    scope: Scope,
    admin: Admin,
    session: DbSession,
    request: Request,
    queue: QueueName,
    action: Literal["pause", "resume"],
) -> ActionOut:
    await _audit(session, user, request, action, queue)
    act = admin.actions.pause if action == "pause" else admin.actions.resume
    await act(queue, scope)
    return ActionOut(action=action, queue=queue)


async def _overrides_out(admin: QueueAdmin, queue: str) -> dict[str, Any]:
    return {"queue": queue, **(await admin.actions.overrides(queue)).to_dict()}


@router.get(
    "/{queue}/overrides",
    response_model=OverridesOut,
    responses=ACTION_ERRORS,
    summary="The queue's run-time rate limit and concurrency, where set",
)
async def overrides(_scope: Scope, admin: Admin, queue: QueueName) -> dict[str, Any]:
    return await _overrides_out(admin, queue)


@router.put(
    "/{queue}/rate-limit",
    response_model=OverridesOut,
    responses=ACTION_ERRORS,
    summary="Override the queue's rate limit across all workers",
)
async def set_rate_limit(
    user: QueueMonitor,
    scope: Scope,
    admin: Admin,
    session: DbSession,
    request: Request,
    queue: QueueName,
    body: RateLimitIn,
) -> dict[str, Any]:
    await _audit(session, user, request, "rate_limit_set", queue, **body.model_dump())
    await admin.actions.set_rate_limit(queue, body.max, body.duration_ms, scope)
    return await _overrides_out(admin, queue)


@router.put(
    "/{queue}/concurrency",
    response_model=OverridesOut,
    responses=ACTION_ERRORS,
    summary="Cap the jobs the queue runs at once across all workers",
)
async def set_concurrency(
    user: QueueMonitor,
    scope: Scope,
    admin: Admin,
    session: DbSession,
    request: Request,
    queue: QueueName,
    body: ConcurrencyIn,
) -> dict[str, Any]:
    await _audit(session, user, request, "concurrency_set", queue, **body.model_dump())
    await admin.actions.set_concurrency(queue, body.concurrency, scope)
    return await _overrides_out(admin, queue)


@router.delete(
    "/{queue}/{setting}",
    response_model=OverridesOut,
    responses=ACTION_ERRORS,
    summary="Drop a run-time override: the configured value applies again",
)
async def clear_override(
    user: QueueMonitor,
    scope: Scope,
    admin: Admin,
    session: DbSession,
    request: Request,
    queue: QueueName,
    setting: Literal["rate-limit", "concurrency"],
) -> dict[str, Any]:
    await _audit(session, user, request, f"{setting.replace('-', '_')}_cleared", queue)
    if setting == "rate-limit":
        await admin.actions.set_rate_limit(queue, None, scope=scope)
    else:
        await admin.actions.set_concurrency(queue, None, scope)
    return await _overrides_out(admin, queue)
