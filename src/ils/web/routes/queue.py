"""The seed's queue monitoring endpoints: ``/api/queue/stats``, ``/health`` and ``/info``, and
the viewer scope every queue route derives from its user (:func:`viewer_scope`).

For the three admin roles only. They read through :class:`ils.queue.admin.QueueAdmin`, in the
user's scope (a company's admin counts only its company's jobs), and never talk to Redis
themselves.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ils.domain.enums import ADMIN_ROLES, Role
from ils.domain.models.accounts import User
from ils.errors import BrokerUnavailable
from ils.queue.admin import QueueAdmin
from ils.queue.settings import QUEUE_NAMES, QueueSpec
from ils.queue.tenancy import PLATFORM, ViewerScope
from ils.web.auth.context import web_context
from ils.web.auth.dependencies import require_roles
from ils.web.errors import ErrorOut

router = APIRouter(prefix="/api/queue", tags=["queue"])

QueueMonitor = Annotated[User, Depends(require_roles(*sorted(ADMIN_ROLES)))]
DENIED: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}

# The path parameters and error answers of the admin routes (queue_admin, queue_actions, outbox).
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


class QueueCounts(BaseModel):
    waiting: int
    active: int
    completed: int
    failed: int
    delayed: int
    prioritized: int
    paused: int = Field(description="jobs waiting in a paused queue")


class QueueStatsOut(BaseModel):
    """The seed's shape: ``redis`` and one entry per queue."""

    redis: bool
    email: QueueCounts
    pdf: QueueCounts
    notification: QueueCounts
    ai: QueueCounts
    oma: QueueCounts
    scheduled: QueueCounts


class StatsUnavailableOut(BaseModel):
    redis: bool = False
    error: str


class WorkerProcessOut(BaseModel):
    id: str
    host: str
    pid: int
    queues: list[str]
    started: int
    last_seen: int
    processed: int | None = Field(description="None in a company's view (spans every company)")
    failed: int | None


class QueueHealthOut(BaseModel):
    redis: bool
    healthy: bool = Field(description="Redis answers and at least one worker is alive")
    latency_ms: float | None
    version: str | None
    memory_used_bytes: int | None
    memory_used_human: str | None
    connected_clients: int | None
    error: str | None
    workers: dict[str, int] = Field(description="live worker processes per queue")
    worker_processes: list[WorkerProcessOut]
    checked_at: int = Field(description="epoch milliseconds")


class QueueInfoEntry(BaseModel):
    settings: QueueSpec
    counts: QueueCounts | None = Field(description="None while Redis is unreachable")
    paused: bool | None
    workers: int


class QueueInfoOut(BaseModel):
    prefix: str
    queues: dict[str, QueueInfoEntry]
    health: QueueHealthOut


def queue_admin(request: Request) -> QueueAdmin:
    return web_context(request).system.admin


Admin = Annotated[QueueAdmin, Depends(queue_admin)]


def scope_of(user: User) -> ViewerScope:
    """What ``user`` may see of the queues: ``platform_admin`` every company, unmasked; ``admin``
    its company, unmasked; anyone else (``company_admin``) its company, personal data masked."""
    if user.role is Role.platform_admin:
        return PLATFORM
    return ViewerScope(company_id=user.company_id, mask=user.role is not Role.admin)


async def viewer_scope(user: QueueMonitor) -> ViewerScope:
    """The request's viewer scope: derived here, once, and applied by the admin layer."""
    return scope_of(user)


Scope = Annotated[ViewerScope, Depends(viewer_scope)]


@router.get(
    "/stats",
    response_model=QueueStatsOut,
    summary="Job counts per state for each of the six queues",
    responses={**DENIED, 503: {"model": StatsUnavailableOut}},
)
async def queue_stats(scope: Scope, admin: Admin) -> QueueStatsOut | JSONResponse:
    try:
        stats = await admin.stats(scope=scope)
    except BrokerUnavailable as exc:
        body = StatsUnavailableOut(error=str(exc)).model_dump()
        return JSONResponse(body, status_code=status.HTTP_503_SERVICE_UNAVAILABLE)
    return QueueStatsOut.model_validate({"redis": True, **stats})


@router.get(
    "/health",
    response_model=QueueHealthOut,
    summary="Redis reachability, latency and memory, and the live workers per queue",
    responses=DENIED,
)
async def queue_health(scope: Scope, admin: Admin) -> dict[str, Any]:
    return await admin.health(scope)


@router.get(
    "/info",
    response_model=QueueInfoOut,
    summary="Each queue's settings, counts and workers, with the broker's health",
    responses=DENIED,
)
async def queue_info(scope: Scope, admin: Admin) -> dict[str, Any]:
    return await admin.info(scope)
