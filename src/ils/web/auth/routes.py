"""The auth routes under ``/api/auth``: password login and logout, who am I; the routes of a
user's own credentials (password, API tokens, sessions) are added from :mod:`.credentials`."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy import func, select

from ils.domain.models.accounts import User
from ils.domain.passwords import hash_password, needs_rehash, verify_password
from ils.events import emit
from ils.web.auth.audit import client_ip, record_audit
from ils.web.auth.context import web_context
from ils.web.auth.credentials import router as credentials_router
from ils.web.auth.dependencies import (
    CurrentUser,
    DbSession,
    auth_method,
    cookie_scheme,
)
from ils.web.auth.ratelimit import too_many
from ils.web.auth.schemas import LoginOut, LoginRequest, MeOut, UserOut
from ils.web.auth.session_store import prune_sessions, revoke_session, start_session
from ils.web.auth.sessions import CSRF_HEADER, csrf_matches
from ils.web.errors import ErrorOut

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/auth", tags=["auth"])

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}}
BAD_LOGIN = "invalid email or password"


@functools.cache
def dummy_password_hash() -> str:
    """A hash to verify against when the email is unknown, so both cases take as long."""
    return hash_password(secrets.token_urlsafe(16))


def _check_password(password_hash: str | None, password: str) -> bool:
    return verify_password(password_hash or dummy_password_hash(), password)


@router.post(
    "/login",
    response_model=LoginOut,
    summary="Log in with email and password; sets the session and CSRF cookies",
    responses={401: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)
async def login(
    body: LoginRequest, request: Request, response: Response, session: DbSession
) -> LoginOut:
    ctx = web_context(request)
    limiter = ctx.login_limiter
    email = body.email.strip().lower()
    ip = client_ip(request) or "unknown"
    # Per IP first, before the user lookup and the password hash: cheap refusals for a spray.
    by_ip = await limiter.check_ip(ip)
    if by_ip.blocked(limiter.ip_max_failures):
        raise too_many(by_ip, "failed logins")
    state = await limiter.check(email, ip)
    if state.blocked(limiter.max_failures):
        raise too_many(state, "failed logins")
    user = (
        await session.execute(select(User).where(func.lower(User.email) == email))
    ).scalar_one_or_none()
    # Argon2 is CPU work: off the event loop. Unknown emails verify a dummy hash (same time).
    known_hash = user.password_hash if user is not None else None
    ok = await asyncio.to_thread(_check_password, known_hash, body.password)
    if user is None or not ok or not user.is_active:
        await limiter.failed(email, ip)
        log.info("failed login from %s", ip)
        reason = "unknown email" if user is None else "inactive" if ok else "wrong password"
        # The refusal is kept although the request fails: its event commits on its own.
        await emit.login_failed(session, email, reason, user)
        await session.commit()
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=BAD_LOGIN)
    await limiter.succeeded(email, ip)
    if needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hash_password, body.password)
    now = ctx.clock()
    user.last_login_at = now
    await prune_sessions(session, user.id, ctx.session_lifetime, now)
    row, issued = await start_session(
        session, ctx.sessions, user, now, client_ip(request), request.headers.get("user-agent")
    )
    ctx.sessions.set_cookies(response, issued)
    await emit.logged_in(session, user)
    await record_audit(
        session, user, "auth.login", "user", user.id, {"session_id": row.id}, request
    )
    return LoginOut(user=UserOut.model_validate(user), csrf_token=issued.csrf)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="End the cookie session for good, server-side (needs the X-CSRF-Token header)",
    responses={403: {"model": ErrorOut}},
)
async def logout(
    request: Request,
    session: DbSession,
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> Response:
    ctx = web_context(request)
    data = ctx.sessions.read(cookie) if cookie else None
    if data is not None:
        if not csrf_matches(data, request.headers.get(CSRF_HEADER)):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, detail=f"CSRF check failed: send {CSRF_HEADER}"
            )
        # Revoked in the database: a copy of the cookie is worthless from now on.
        user_id = await revoke_session(session, data, ctx.clock())
        user = await session.get(User, user_id) if user_id is not None else None
        if user is not None:
            await record_audit(session, user, "auth.logout", "user", user.id, {}, request)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    ctx.sessions.clear_cookies(response)
    return response


@router.get("/me", response_model=MeOut, summary="The current user", responses=UNAUTHORIZED)
async def me(request: Request, user: CurrentUser) -> MeOut:
    return MeOut(
        user=UserOut.model_validate(user),
        auth=auth_method(request) or "session",
        csrf_token=getattr(request.state, "csrf_token", None),
    )


router.include_router(credentials_router)
