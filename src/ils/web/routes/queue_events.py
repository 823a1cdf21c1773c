"""Live updates for the dashboard: ``GET /api/queue/events``, a server-sent event stream.

Every ``interval`` seconds it sends one ``snapshot`` event: the broker's health, the live
workers, and per queue the counts, paused flag, limits and run-time overrides (see
:meth:`ils.queue.admin.QueueAdmin.snapshot`). For the three admin roles, each in its viewer scope:
a company's admin gets its company's counts only, never another company's. The stream ends when
the client goes away or the app is stopping; browsers reconnect by themselves (``retry``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, cast

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from ils.queue.admin import QueueAdmin
from ils.queue.tenancy import ViewerScope
from ils.web.routes.queue import DENIED, Admin, Scope
from ils.web.shutdown import ShutdownFlag

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/queue", tags=["queue"])

#: How long a browser waits before reconnecting to a stream that ended (ms).
RECONNECT_MS = 2_000


def shutdown_flag(request: Request) -> ShutdownFlag:
    return cast(ShutdownFlag, request.app.state.shutdown)


def sse_event(event: str, data: object) -> str:
    """One event in the text/event-stream format (JSON data on a single line)."""
    return f"event: {event}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"


async def snapshots(
    request: Request,
    admin: QueueAdmin,
    scope: ViewerScope,
    flag: ShutdownFlag,
    interval_s: float,
) -> AsyncIterator[str]:
    """Snapshot events of ``scope`` until the client disconnects or the app stops."""
    yield f"retry: {RECONNECT_MS}\n\n"
    while not flag.raised:
        if await request.is_disconnected():
            break
        yield sse_event("snapshot", await admin.snapshot(scope))
        if await flag.wait(interval_s):
            break
    log.debug("event stream closed")


@router.get(
    "/events",
    response_class=StreamingResponse,
    summary="Server-sent events: a snapshot of every queue about once a second",
    responses={
        **DENIED,
        200: {"content": {"text/event-stream": {}}, "description": "an endless event stream"},
    },
)
async def queue_events(
    scope: Scope,
    admin: Admin,
    request: Request,
    interval: Annotated[float, Query(ge=0.2, le=60, description="seconds between snapshots")] = 1.0,
) -> StreamingResponse:
    return StreamingResponse(
        snapshots(request, admin, scope, shutdown_flag(request), interval),
        media_type="text/event-stream",
        # No proxy buffering or caching of a live stream.
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )
