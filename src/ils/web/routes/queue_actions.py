"""The queue admin API's actions: on one job (retry, promote, cancel, remove) and on a whole
queue (retry every failed job, clean, pause and resume, rate-limit and concurrency overrides).

For the three admin roles, each in the viewer scope of :func:`ils.web.routes.queue.viewer_scope`,
which :class:`ils.queue.admin.QueueAdmin` applies (not these routes): a company's admin acts on
its company's jobs only (another company's job is a 404, like a missing one), and queue-wide
actions are ``platform_admin``'s (403 for the others). Each action is written to the audit log
(who, what, which queue and job, from where) in the request's transaction before it is carried
out, so an action that fails or is refused leaves no entry and an entry that cannot be written
stops the action.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from ils.domain.models.accounts import User
from ils.queue.admin import QueueAdmin
from ils.queue.states import FinalState
from ils.web.auth.audit import record_audit
from ils.web.auth.dependencies import DbSession
from ils.web.quota_deps import BulkQuota
from ils.web.routes.queue import ACTION_ERRORS, Admin, JobId, QueueMonitor, QueueName, Scope

router = APIRouter(prefix="/api/queue", tags=["queue admin"])


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
