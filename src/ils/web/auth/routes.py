"""The auth routes under ``/api/auth``: password login and logout, who am I, API tokens."""

from __future__ import annotations

import asyncio
import functools
import logging
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response, status
from sqlalchemy import func, select

from ils.domain.models.accounts import ApiToken, User
from ils.domain.models.types import utcnow
from ils.domain.passwords import hash_password, needs_rehash, verify_password
from ils.domain.services import Id
from ils.web.auth.audit import client_ip, record_audit
from ils.web.auth.context import web_context
from ils.web.auth.dependencies import (
    CurrentUser,
    DbSession,
    auth_method,
    cookie_scheme,
)
from ils.web.auth.ratelimit import LimitState
from ils.web.auth.schemas import (
    LoginOut,
    LoginRequest,
    MeOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
    UserOut,
)
from ils.web.auth.sessions import CSRF_HEADER, csrf_matches
from ils.web.auth.tokens import create_token
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


def _too_many(state: LimitState) -> HTTPException:
    return HTTPException(
        status.HTTP_429_TOO_MANY_REQUESTS,
        detail=f"too many failed logins: try again in {state.retry_after_s} s",
        headers={"Retry-After": str(state.retry_after_s)},
    )


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
        raise _too_many(by_ip)
    state = await limiter.check(email, ip)
    if state.blocked(limiter.max_failures):
        raise _too_many(state)
    user = (
        await session.execute(select(User).where(func.lower(User.email) == email))
    ).scalar_one_or_none()
    # Argon2 is CPU work: off the event loop. Unknown emails verify a dummy hash (same time).
    known_hash = user.password_hash if user is not None else None
    ok = await asyncio.to_thread(_check_password, known_hash, body.password)
    if user is None or not ok or not user.is_active:
        await limiter.failed(email, ip)
        log.info("failed login from %s", ip)
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail=BAD_LOGIN)
    await limiter.succeeded(email, ip)
    if needs_rehash(user.password_hash):
        user.password_hash = await asyncio.to_thread(hash_password, body.password)
    user.last_login_at = utcnow()
    value, csrf = ctx.sessions.issue(user)
    ctx.sessions.set_cookies(response, value, csrf)
    await record_audit(session, user, "auth.login", "user", user.id, {}, request)
    return LoginOut(user=UserOut.model_validate(user), csrf_token=csrf)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="End the cookie session (needs the X-CSRF-Token header)",
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
        user = await session.get(User, data.user_id)
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


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    summary="Create an API token for the current user; the token is shown only in this answer",
    responses=UNAUTHORIZED,
)
async def create_api_token(
    body: TokenCreate, request: Request, user: CurrentUser, session: DbSession
) -> TokenCreated:
    row, token = await create_token(session, user, body.name)
    detail = {"name": row.name, "prefix": row.prefix}
    await record_audit(session, user, "auth.token_created", "api_token", row.id, detail, request)
    return TokenCreated.model_validate(TokenOut.model_validate(row).model_dump() | {"token": token})


@router.get(
    "/tokens",
    response_model=list[TokenOut],
    summary="The current user's API tokens (without the tokens themselves)",
    responses=UNAUTHORIZED,
)
async def list_api_tokens(user: CurrentUser, session: DbSession) -> list[TokenOut]:
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    )
    return [TokenOut.model_validate(row) for row in rows]


@router.delete(
    "/tokens/{token_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke one of the current user's API tokens",
    responses={**UNAUTHORIZED, 404: {"model": ErrorOut}},
)
async def revoke_api_token(
    token_id: Id, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    row = await session.get(ApiToken, token_id)
    if row is None or row.user_id != user.id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"API token {token_id} not found")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
        detail = {"name": row.name, "prefix": row.prefix}
        await record_audit(
            session, user, "auth.token_revoked", "api_token", row.id, detail, request
        )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
