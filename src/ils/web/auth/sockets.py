"""Who a WebSocket connects as: a bearer token, else the session cookie, checked as for HTTP
requests; and whether a cookie-authenticated socket comes from one of our own pages.

A browser sends cookies on a WebSocket handshake from any site, and the CSRF header cannot be
set there, so for cookie sessions the ``Origin`` header is what tells our pages from another
site's: it must be the public URL's origin or the origin of the host asked. Clients that are not
browsers send no ``Origin``; bearer tokens are never sent by a browser on its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import WebSocket

from ils.domain.models.accounts import User
from ils.web.auth.context import WebContext
from ils.web.auth.dependencies import AuthMethod
from ils.web.auth.session_store import live_session
from ils.web.auth.sessions import SESSION_COOKIE
from ils.web.auth.tokens import user_for_token


@dataclass(frozen=True)
class SocketUser:
    user_id: int
    company_id: int
    method: AuthMethod


def _bearer(websocket: WebSocket) -> str | None:
    scheme, _, credentials = websocket.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        return None
    return credentials.strip()


async def authenticate_socket(
    websocket: WebSocket, ctx: WebContext, touch: bool = True
) -> SocketUser | None:
    """The active user the handshake authenticates as, or None. ``touch=False`` for the checks
    of an open socket: an open tab is not activity, so it must not keep a session from idling."""
    token = _bearer(websocket)
    cookie = websocket.cookies.get(SESSION_COOKIE)
    now = ctx.clock()
    async with ctx.system.database.session() as session:
        user: User | None = None
        if token is not None:
            user = await user_for_token(session, token, ctx.token_lifetime, now, touch)
            method: AuthMethod = "token"
        elif cookie:
            data = ctx.sessions.read(cookie)
            if data is not None:
                live = await live_session(
                    session, ctx.sessions, data, ctx.session_lifetime, now, touch
                )
                user = live[1] if live is not None else None
            method = "session"
        else:
            return None
        return SocketUser(user.id, user.company_id, method) if user is not None else None


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed(websocket: WebSocket, ctx: WebContext) -> bool:
    """True when the handshake has no ``Origin`` (not a browser) or one of ours."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    allowed = {_origin(ctx.settings.public_url)}
    host = websocket.headers.get("host")
    if host:
        allowed |= {f"http://{host}".lower(), f"https://{host}".lower()}
    return origin.rstrip("/").lower() in allowed
