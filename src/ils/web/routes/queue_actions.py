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

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.accounts import User
from ils.queue.admin import QueueAdmin
from ils.queue.states import FinalState
from ils.queue.tenancy import ViewerScope
from ils.web.auth.audit import record_audit
from ils.web.auth.dependencies import DbSession
from ils.web.quota_deps import BulkQuota
from ils.web.routes.queue import ACTION_ERRORS, Admin, JobId, QueueMonitor, QueueName, Scope

router = APIRouter(prefix="/api/queue", tags=["queue admin"])
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


class CancelledOut(BaseModel):
    """Every job a cancel touched, as ``<queue>/<job id>``."""

    removed: list[str] = Field(description="not running yet: removed, they never run")
    stopping: list[str] = Field(description="active: their worker was asked to stop them")
    marked: list[str] = Field(
        description="parents waiting for children: they end 'cancelled' without running"
    )
    left_alone: int = Field(description="children outside your company's scope, not touched")


class ActionOut(BaseModel):
    ok: bool = True
    action: str
    queue: str
    job_id: str | None = None
    count: int | None = Field(None, description="jobs affected, where it is a bulk action")
    outcome: str | None = Field(
        None, description="cancel: 'removed' (it was not running yet) or 'cancelling' (its "
        "worker was asked to stop it, or it waits for children cancelled with it; it ends "
        "'cancelled')"
    )  # fmt: skip
    cancelled: CancelledOut | None = Field(
        None, description="cancel: the job and its flow's pending children it cancelled"
    )


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


def _route(
    method: str, path: str, summary: str, out: type[BaseModel] = ActionOut
) -> Callable[[Endpoint], Endpoint]:
    """Register an action route: its answer model, and the error answers of every action."""
    return router.api_route(
        path, methods=[method], response_model=out, responses=ACTION_ERRORS, summary=summary
    )


@dataclass(frozen=True)
class Acting:
    """Who acts on the queues, in which scope, through which admin, and where the audit entry
    goes (the request's transaction)."""

    user: User
    scope: ViewerScope
    admin: QueueAdmin
    session: AsyncSession
    request: Request

    async def audit(
        self, action: str, queue: str, job_id: str | None = None, **detail: Any
    ) -> None:
        """Write the action to the audit log, before it is carried out."""
        await record_audit(
            self.session,
            self.user,
            f"queue.{action}",
            "job" if job_id else "queue",
            f"{queue}/{job_id}" if job_id else queue,
            {"queue": queue, **detail},
            self.request,
        )


async def _overrides_out(admin: QueueAdmin, queue: str) -> dict[str, Any]:
    return {"queue": queue, **(await admin.actions.overrides(queue)).to_dict()}


async def acting(
    user: QueueMonitor, scope: Scope, admin: Admin, session: DbSession, request: Request
) -> Acting:
    return Acting(user, scope, admin, session, request)


Act = Annotated[Acting, Depends(acting)]


@_route(
    "POST",
    "/{queue}/jobs/{job_id}/{action}",
    "Retry a failed job, promote a delayed one, or cancel one that has not finished "
    "(removed if not running yet; an active one's worker is asked to stop it; a parent waiting "
    "for children is cancelled with its pending children)",
)
async def job_action(
    act: Act,
    queue: QueueName,
    job_id: JobId,
    action: Literal["retry", "promote", "cancel"],
    _quota: BulkQuota,
) -> ActionOut:
    await act.audit(f"job_{action}", queue, job_id)
    jobs = act.admin.actions
    if action == "cancel":
        done = await jobs.cancel(queue, job_id, act.scope)
        cancelled = CancelledOut(
            removed=done.removed, stopping=done.stopping, marked=done.marked,
            left_alone=done.left_alone,
        )  # fmt: skip
        return ActionOut(
            action=action, queue=queue, job_id=job_id, outcome=done.outcome, cancelled=cancelled
        )
    await (jobs.retry if action == "retry" else jobs.promote)(queue, job_id, act.scope)
    return ActionOut(action=action, queue=queue, job_id=job_id)


@_route("DELETE", "/{queue}/jobs/{job_id}", "Remove a job that is not running")
async def remove_job(act: Act, queue: QueueName, job_id: JobId) -> ActionOut:
    await act.audit("job_remove", queue, job_id)
    await act.admin.actions.remove(queue, job_id, act.scope)
    return ActionOut(action="remove", queue=queue, job_id=job_id)


@_route("POST", "/{queue}/retry-failed", "Send every failed job of the queue back to waiting")
async def retry_failed(act: Act, queue: QueueName, _quota: BulkQuota) -> ActionOut:
    await act.audit("retry_all_failed", queue)
    count = await act.admin.actions.retry_all_failed(queue, act.scope)
    return ActionOut(action="retry-failed", queue=queue, count=count)


@_route("POST", "/{queue}/clean", "Delete completed or failed jobs older than an age")
async def clean(act: Act, queue: QueueName, body: CleanIn) -> ActionOut:
    await act.audit("clean", queue, **body.model_dump())
    count = await act.admin.actions.clean(queue, body.state, body.older_than_s, act.scope)
    return ActionOut(action="clean", queue=queue, count=count)


@_route("POST", "/{queue}/{action}", "Pause (workers stop taking its jobs) or resume a queue")
async def pause_or_resume(
    act: Act, queue: QueueName, action: Literal["pause", "resume"]
) -> ActionOut:
    await act.audit(action, queue)
    queues = act.admin.actions
    await (queues.pause if action == "pause" else queues.resume)(queue, act.scope)
    return ActionOut(action=action, queue=queue)


@_route(
    "GET",
    "/{queue}/overrides",
    "The queue's run-time rate limit and concurrency, where set",
    OverridesOut,
)
async def overrides(_scope: Scope, admin: Admin, queue: QueueName) -> dict[str, Any]:
    return await _overrides_out(admin, queue)


@_route(
    "PUT", "/{queue}/rate-limit", "Override the queue's rate limit across all workers", OverridesOut
)
async def set_rate_limit(act: Act, queue: QueueName, body: RateLimitIn) -> dict[str, Any]:
    await act.audit("rate_limit_set", queue, **body.model_dump())
    await act.admin.actions.set_rate_limit(queue, body.max, body.duration_ms, act.scope)
    return await _overrides_out(act.admin, queue)


@_route(
    "PUT",
    "/{queue}/concurrency",
    "Cap the jobs the queue runs at once across all workers",
    OverridesOut,
)
async def set_concurrency(act: Act, queue: QueueName, body: ConcurrencyIn) -> dict[str, Any]:
    await act.audit("concurrency_set", queue, **body.model_dump())
    await act.admin.actions.set_concurrency(queue, body.concurrency, act.scope)
    return await _overrides_out(act.admin, queue)


@_route(
    "DELETE",
    "/{queue}/{setting}",
    "Drop a run-time override: the configured value applies again",
    OverridesOut,
)
async def clear_override(
    act: Act, queue: QueueName, setting: Literal["rate-limit", "concurrency"]
) -> dict[str, Any]:
    await act.audit(f"{setting.replace('-', '_')}_cleared", queue)
    if setting == "rate-limit":
        await act.admin.actions.set_rate_limit(queue, None, scope=act.scope)
    else:
        await act.admin.actions.set_concurrency(queue, None, act.scope)
    return await _overrides_out(act.admin, queue)
