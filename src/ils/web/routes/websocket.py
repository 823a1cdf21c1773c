"""``GET /ws``: a user's notifications pushed live, with what they missed replayed on reconnect.

The handshake is refused (HTTP 403, close code 1008) without a session cookie or bearer token,
for a cookie session from another site's page, or for a bad ``last_id``. Otherwise the socket is
registered with the process's :class:`~ils.web.live_hub.LiveHub` *before* the database is read, so
nothing published in between is lost; what the replay and the live events both carry is sent
once (by id). The server sends JSON messages:

| ``type`` | fields | when |
|---|---|---|
| ``notification`` | ``notification``, ``unread_count``, ``replayed`` | missed, or new |
| ``ready`` | ``unread_count``, ``last_id``, ``truncated`` | the replay is done; live from here |
| ``read`` | ``ids`` (a list, or ``"all"``), ``unread_count`` | marked read, in any tab |
| ``event`` | ``event`` (a domain event's envelope) | recorded in the company (event log readers) |

What a live event names is read from the database (by the hub) as this user's before it is
sent: the channel carries ids only, and a forged one finds nothing to send. What the client
sends is ignored. The server closes with 1013 (try again later) when live notifications are
unavailable (Redis down) or the client reads too slowly to keep up, and with 1008 once the
session or token the socket opened with is over (logout, password change, expiry, revocation;
checked every ``ILS_SESSION_RECHECK_S``).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, cast

from fastapi import APIRouter, WebSocket, WebSocketDisconnect, status

from ils.domain.services import MAX_ID
from ils.domain.services import notifications as service
from ils.web.auth.context import WebContext
from ils.web.auth.sockets import SocketUser, authenticate_socket, origin_allowed
from ils.web.live_hub import Delivery, Inbox, LiveHub

router = APIRouter(tags=["notifications"])

# Most notifications one reconnect replays (the newest of the missed); older ones are in REST.
REPLAY_MAX = 200
# Ids a socket remembers having sent, to send each once.
SENT_MEMORY = 1_000
HUB_WAIT_S = 5.0
TRY_AGAIN_LATER = 1013


def _last_id(websocket: WebSocket) -> int | str | None:
    """The ``last_id`` query parameter: an int, None when absent, or what is wrong with it."""
    raw = websocket.query_params.get("last_id")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 10 or int(raw) > MAX_ID:  # past the id column's range
        return "last_id: must be a whole number >= 0 (the id of the last notification seen)"
    return int(raw)


class LiveSocket:
    """One accepted socket: sends the replay, then its inbox's events, each notification once."""

    def __init__(self, websocket: WebSocket, ctx: WebContext, user: SocketUser, inbox: Inbox):
        self.websocket = websocket
        self.ctx = ctx
        self.user = user
        self.inbox = inbox
        self.floor = 0  # replays and resyncs read above this id
        self.sent: dict[int, None] = {}  # insertion-ordered: the oldest is forgotten first

    async def _send_notification(self, body: dict[str, Any], unread: int, replayed: bool) -> None:
        ident = int(body["id"])
        if ident in self.sent:
            return
        self.sent[ident] = None
        if len(self.sent) > SENT_MEMORY:
            del self.sent[next(iter(self.sent))]
        message = {
            "type": "notification",
            "notification": body,
            "unread_count": unread,
            "replayed": replayed,
        }
        await self.websocket.send_json(message)

    async def replay(self, last_id: int | None) -> None:
        """What the client missed since ``last_id`` (nothing without one), then ``ready``."""
        async with self.ctx.system.database.session() as session:
            latest = await service.latest_id(session, self.user.user_id)
            rows = []
            if last_id is not None:
                rows = await service.since(session, self.user.user_id, last_id, REPLAY_MAX + 1)
            unread = await service.unread_count(session, self.user.user_id)
        truncated = len(rows) > REPLAY_MAX
        rows = rows[-REPLAY_MAX:]
        self.floor = last_id if last_id is not None else latest
        for row in rows:
            await self._send_notification(service.as_json(row), unread, replayed=True)
        ready = {"type": "ready", "unread_count": unread, "last_id": latest, "truncated": truncated}
        await self.websocket.send_json(ready)

    async def _resync(self) -> None:
        """After the hub's subscription came back: send what was published meanwhile."""
        async with self.ctx.system.database.session() as session:
            rows = await service.since(session, self.user.user_id, self.floor, REPLAY_MAX)
            unread = await service.unread_count(session, self.user.user_id)
        for row in rows:
            await self._send_notification(service.as_json(row), unread, replayed=True)

    async def pump(self) -> None:
        """Forward the inbox until the inbox overflows (closing 1013) or the task is cancelled."""
        while True:
            item = await self.inbox.get()
            if self.inbox.overflowed:
                await self.websocket.close(TRY_AGAIN_LATER, "too slow: reconnect with last_id")
                return
            if isinstance(item, Delivery) and item.kind == "event":
                await self.websocket.send_json({"type": "event", "event": item.event})
            elif isinstance(item, Delivery) and item.notification is not None:
                await self._send_notification(item.notification, item.unread_count, False)
            elif isinstance(item, Delivery):
                message = {"type": "read", "ids": item.ids, "unread_count": item.unread_count}
                await self.websocket.send_json(message)
            else:
                await self._resync()

    async def watch_credential(self) -> None:
        """Close the socket once its session or token no longer authenticates anyone."""
        while True:
            await asyncio.sleep(self.ctx.settings.session_recheck_s)
            if await authenticate_socket(self.websocket, self.ctx, touch=False) is None:
                await self.websocket.close(
                    status.WS_1008_POLICY_VIOLATION, "session ended: log in again"
                )
                return

    async def drain_client(self) -> None:
        """Read (and ignore) what the client sends, to notice when it goes."""
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                await self.websocket.receive_text()


async def _serve(socket: LiveSocket, last_id: int | None) -> None:
    await socket.replay(last_id)
    tasks = [
        asyncio.create_task(socket.pump()),
        asyncio.create_task(socket.drain_client()),
        asyncio.create_task(socket.watch_credential()),
    ]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task


@router.websocket("/ws", name="live notifications")
async def live(websocket: WebSocket) -> None:
    ctx = cast(WebContext, websocket.app.state.web)
    hub = cast(LiveHub, websocket.app.state.live)
    policy = status.WS_1008_POLICY_VIOLATION
    last_id = _last_id(websocket)
    if isinstance(last_id, str):
        await websocket.close(policy, last_id)
        return
    user = await authenticate_socket(websocket, ctx)
    if user is None:
        await websocket.close(policy, "not authenticated: log in or send an API token")
        return
    if user.method == "session" and not origin_allowed(websocket, ctx):
        await websocket.close(policy, "origin not allowed for a cookie session")
        return
    if not await hub.wait_ready(HUB_WAIT_S):
        await websocket.close(TRY_AGAIN_LATER, "live notifications are unavailable: try again")
        return
    inbox = hub.register(user.user_id)  # before the replay reads: nothing falls in between
    try:
        await websocket.accept()
        socket = LiveSocket(websocket, ctx, user, inbox)
        with contextlib.suppress(WebSocketDisconnect):
            await _serve(socket, last_id)
    finally:
        hub.unregister(inbox)
