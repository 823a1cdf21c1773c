"""The seed's queue monitoring endpoints: ``/api/queue/stats``, ``/health`` and ``/info``, and
the viewer scope every queue route derives from its user (:func:`viewer_scope`).

For the three admin roles only. They read through :class:`ils.queue.admin.QueueAdmin`, in the
user's scope (a company's admin counts only its company's jobs), and never talk to Redis
themselves.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, TypeVar

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
from ils.web.routes.common import take_summary

router = APIRouter(prefix="/api/queue", tags=["queue"])
Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])
Responses = dict[int | str, dict[str, Any]]

QueueMonitor = Annotated[User, Depends(require_roles(*sorted(ADMIN_ROLES)))]
DENIED: Responses = {401: {"model": ErrorOut}, 403: {"model": ErrorOut}}

# The path parameters and error answers of the admin routes (queue_admin, queue_actions, outbox).
QueueName = Annotated[
    Literal["email", "pdf", "notification", "ai", "oma", "scheduled"],
    Path(description="one of the six queues"),
]
JobId = Annotated[str, Path(min_length=1, max_length=100)]
UNREACHABLE = {"model": ErrorOut, "description": "Redis is unreachable"}
ACTION_ERRORS: Responses = {
    **DENIED,
    404: {"model": ErrorOut, "description": "no such job (or another company's)"},
    409: {"model": ErrorOut, "description": "the action does not apply to the job's state"},
    503: UNREACHABLE,
}
assert set(QueueName.__origin__.__args__) == set(QUEUE_NAMES)  # type: ignore[attr-defined]


def admin_route(
    router: APIRouter, method: str, path: str, out: Any, responses: Responses = ACTION_ERRORS
) -> Callable[[Endpoint], Endpoint]:
    """A decorator: the function as ``method path`` of ``router``, answering ``out``, with its
    error answers (by default those of every admin action). The first paragraph of its
    docstring is the summary, the rest the description."""

    def register(endpoint: Endpoint) -> Endpoint:
        summary = take_summary(endpoint)
        options = {"response_model": out, "responses": responses, "summary": summary}
        router.add_api_route(path, endpoint, methods=[method], **options)
        return endpoint

    return register


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
    host: str | None = Field(description="None in a company's view (where workers run)")
    pid: int | None = Field(description="None in a company's view")
    queues: list[str]
    started: int
    last_seen: int
    processed: int | None = Field(description="None in a company's view (spans every company)")
    failed: int | None


class ServerHealthOut(BaseModel):
    server: str | None = Field(description="its URL without the password; None in a company's view")
    default: bool = Field(description="the deployment's server (REDIS_URL, else embedded)")
    queues: list[str] = Field(description="the queues whose jobs it holds")
    redis: bool = Field(description="it answers")
    latency_ms: float | None
    version: str | None = Field(description="None in a company's view, as are memory and clients")
    memory_used_bytes: int | None
    memory_used_human: str | None
    connected_clients: int | None
    maxmemory_bytes: int | None = None
    maxmemory_policy: str | None = None
    error: str | None


class QueueHealthOut(BaseModel):
    redis: bool
    healthy: bool = Field(description="every Redis server answers and a worker is alive")
    latency_ms: float | None
    version: str | None = Field(description="None in a company's view, as are memory and clients")
    memory_used_bytes: int | None
    memory_used_human: str | None
    connected_clients: int | None
    maxmemory_bytes: int | None = Field(None, description="Redis's memory limit; 0: none")
    maxmemory_policy: str | None = Field(None, description="must be noeviction for BullMQ")
    error: str | None
    servers: list[ServerHealthOut] = Field(
        description="each Redis server with its queues (queues may have servers of their own)"
    )
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


def _read(
    path: str,
    name: str,
    summary: str,
    out: Any,
    read: Callable[[QueueAdmin, ViewerScope], Awaitable[dict[str, Any]]],
) -> None:
    """``GET path`` (the operation ``name``): what ``read(admin, scope)`` answers, in the viewer's
    scope."""

    async def endpoint(scope: Scope, admin: Admin) -> dict[str, Any]:
        return await read(admin, scope)

    router.add_api_route(
        path, endpoint, name=name, response_model=out, responses=DENIED, summary=summary
    )


_read(
    "/health",
    "queue_health",
    "Redis reachability, latency and memory, and the live workers per queue",
    QueueHealthOut,
    QueueAdmin.health,
)
_read(
    "/info",
    "queue_info",
    "Each queue's settings, counts and workers, with the broker's health",
    QueueInfoOut,
    QueueAdmin.info,
)
