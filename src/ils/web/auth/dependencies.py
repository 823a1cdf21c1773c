"""The FastAPI dependencies that authenticate a request and give it its database transaction.

A bearer token wins over a session cookie; a request authenticated by cookie must echo its CSRF
token in ``X-CSRF-Token`` when its method changes state. Failures are 401 (who are you?) or 403
(not you, not this / missing CSRF token).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Literal

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.enums import Role
from ils.domain.models.accounts import User
from ils.events.envelope import Actor
from ils.events.record import act_as
from ils.web.auth.context import web_context
from ils.web.auth.session_store import live_session
from ils.web.auth.sessions import CSRF_HEADER, SESSION_COOKIE, csrf_matches
from ils.web.auth.tokens import user_for_token

AuthMethod = Literal["session", "token"]
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# Declared as security schemes so the OpenAPI schema shows both ways in; neither raises itself.
bearer_scheme = HTTPBearer(auto_error=False, description="an API token: `Bearer ils_...`")
cookie_scheme = APIKeyCookie(
    name=SESSION_COOKIE, auto_error=False, description="the session cookie set by login"
)


async def db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """One transaction per request: committed when the route returns, rolled back if it raises."""
    async with web_context(request).system.database.session() as session:
        yield session


# scope="function": the commit happens before the response is sent, so a failed commit (a
# conflict, say) becomes the response instead of a lost write behind a 200.
DbSession = Annotated[AsyncSession, Depends(db_session, scope="function")]


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED, detail=detail, headers={"WWW-Authenticate": "Bearer"}
    )


async def current_user(
    request: Request,
    session: DbSession,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)],
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> User:
    """The active user the request authenticates as (bearer token, else session cookie); 401."""
    ctx = web_context(request)
    now = ctx.clock()
    if bearer is not None:
        user = await user_for_token(session, bearer.credentials, ctx.token_lifetime, now)
        if user is None:
            raise _unauthorized("invalid, expired or revoked API token")
        _remember(request, user, "token", csrf=None)
        act_as(session, Actor.user(user.id))
        return user
    data = ctx.sessions.read(cookie) if cookie else None
    if data is None:
        raise _unauthorized("not authenticated: log in or send an API token")
    live = await live_session(session, ctx.sessions, data, ctx.session_lifetime, now)
    if live is None:
        raise _unauthorized("session expired or ended: log in again")
    row, found = live
    echoed = request.headers.get(CSRF_HEADER)
    if request.method in UNSAFE_METHODS and not csrf_matches(data, echoed):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail=f"CSRF check failed: send the {CSRF_HEADER} header with the ils_csrf cookie",
        )
    _remember(request, found, "session", csrf=data.csrf, session_id=row.id)
    act_as(session, Actor.user(found.id))
    return found


def _remember(
    request: Request,
    user: User,
    method: AuthMethod,
    csrf: str | None,
    session_id: int | None = None,
) -> None:
    request.state.user_id = user.id
    request.state.auth_method = method
    request.state.csrf_token = csrf
    request.state.auth_session_id = session_id


CurrentUser = Annotated[User, Depends(current_user)]


def auth_method(request: Request) -> AuthMethod | None:
    """How :func:`current_user` authenticated this request (None before it ran)."""
    method: AuthMethod | None = getattr(request.state, "auth_method", None)
    return method


async def session_user(request: Request, user: CurrentUser) -> User:
    """The current user when the request came with a browser session (cookie and CSRF token);
    403 for an API token, so a leaked token cannot mint more tokens or outlive its revocation."""
    if auth_method(request) != "session":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="this needs a browser session (log in), not an API token",
        )
    return user


SessionUser = Annotated[User, Depends(session_user)]


def current_session_id(request: Request) -> int | None:
    """The id of the session row :func:`current_user` found (None for token requests)."""
    session_id: int | None = getattr(request.state, "auth_session_id", None)
    return session_id


def require_roles(*roles: Role) -> Callable[[User], Awaitable[User]]:
    """A dependency: the current user when their role is one of ``roles``; else 403 (or 401)."""
    if not roles:
        raise ValueError("require_roles needs at least one role")
    allowed = frozenset(roles)
    names = ", ".join(sorted(r.value for r in allowed))

    async def dependency(user: CurrentUser) -> User:
        if user.role not in allowed:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"this needs one of the roles: {names}"
            )
        return user

    dependency.__name__ = f"require_roles({names})"
    return dependency
