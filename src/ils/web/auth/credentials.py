"""The routes of a user's own credentials under ``/api/auth``: changing the password, creating,
listing and revoking API tokens, listing and ending browser sessions.

A password change ends every session and token of the user; the browser that made it gets a
fresh session. Tokens are minted only from a browser session, never by another token.
"""

import asyncio
import logging
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi import APIRouter, HTTPException, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select

from ils.domain.models.accounts import ApiToken, AuthSession
from ils.domain.passwords import hash_password, verify_password
from ils.web.auth.audit import client_ip, record_audit
from ils.web.auth.context import WebContext, web_context
from ils.web.auth.dependencies import (
    CurrentUser,
    DbSession,
    SessionUser,
    auth_method,
    current_session_id,
)
from ils.web.auth.ratelimit import too_many
from ils.web.auth.schemas import (
    PasswordChange,
    PasswordChanged,
    SessionOut,
    TokenCreate,
    TokenCreated,
    TokenOut,
)
from ils.web.auth.session_store import revoke_credentials, start_session
from ils.web.auth.tokens import create_token
from ils.web.errors import ErrorOut
from ils.web.routes.common import row_id_param

log = logging.getLogger(__name__)
OutT = TypeVar("OutT", bound=BaseModel)

router = APIRouter()

UNAUTHORIZED: dict[int | str, dict[str, Any]] = {401: {"model": ErrorOut}}
WRONG_PASSWORD = "the old password is wrong"


@router.post(
    "/password",
    response_model=PasswordChanged,
    summary="Change your password (old and new); ends every session and API token of yours",
    description="A wrong old password is a 403 and counts as a failed login (same limit, "
    "429 when reached). The browser session making the change is replaced by a new one "
    "(new cookies in this answer); every other session and every API token stops working.",
    responses={**UNAUTHORIZED, 403: {"model": ErrorOut}, 429: {"model": ErrorOut}},
)
async def change_password(
    body: PasswordChange,
    request: Request,
    response: Response,
    user: CurrentUser,
    session: DbSession,
) -> PasswordChanged | JSONResponse:
    ctx = web_context(request)
    limiter = ctx.login_limiter
    ip = client_ip(request) or "unknown"
    # Counted as logins of this account, so a stolen session cannot guess the password faster
    # here than at /login.
    state = await limiter.check(user.email, ip)
    if state.blocked(limiter.max_failures):
        raise too_many(state, "wrong passwords")
    ok = await asyncio.to_thread(verify_password, user.password_hash, body.old_password)
    if not ok:
        await limiter.failed(user.email, ip)
        log.info("wrong old password in a password change from %s", ip)
        # Answered, not raised: a raise would roll back the transaction and the audit entry.
        await record_audit(
            session, user, "auth.password_change_refused", "user", user.id, {}, request
        )
        return JSONResponse({"detail": WRONG_PASSWORD}, status.HTTP_403_FORBIDDEN)
    await limiter.succeeded(user.email, ip)
    user.password_hash = await asyncio.to_thread(hash_password, body.new_password)
    now = ctx.clock()
    revoked = await revoke_credentials(session, user.id, now)
    csrf: str | None = None
    if auth_method(request) == "session":
        # The caller just proved the password: keep them logged in, but on a new session id,
        # so whoever holds a copy of the old cookie (the reason to change it) is out.
        _, issued = await start_session(
            session, ctx.sessions, user, now, client_ip(request), request.headers.get("user-agent")
        )
        ctx.sessions.set_cookies(response, issued)
        csrf = issued.csrf
    detail = {"sessions_revoked": revoked.sessions, "tokens_revoked": revoked.tokens}
    await record_audit(session, user, "auth.password_changed", "user", user.id, detail, request)
    return PasswordChanged(**detail, csrf_token=csrf)


def _out(model: type[OutT], row: ApiToken | AuthSession, **computed: Any) -> OutT:
    """``model`` of ``row``: the row's attributes of the fields' names, and ``computed`` for the
    fields the row has no column for."""
    columns = {name: getattr(row, name) for name in model.model_fields if name not in computed}
    return model(**columns, **computed)


def _token_out(ctx: WebContext, row: ApiToken) -> TokenOut:
    expires_at = ctx.token_lifetime.expires_at(row.created_at, row.last_used_at)
    active = row.revoked_at is None and ctx.clock() < expires_at
    return _out(TokenOut, row, expires_at=expires_at, active=active)


@router.post(
    "/tokens",
    status_code=status.HTTP_201_CREATED,
    response_model=TokenCreated,
    summary="Create an API token for the current user; the token is shown only in this answer",
    description="Needs a browser session (cookie and X-CSRF-Token): a request authenticated "
    "by an API token gets 403, so a token cannot mint tokens.",
    responses={**UNAUTHORIZED, 403: {"model": ErrorOut}},
)
async def create_api_token(
    body: TokenCreate, request: Request, user: SessionUser, session: DbSession
) -> TokenCreated:
    ctx = web_context(request)
    row, token = await create_token(session, user, body.name, ctx.clock())
    detail = {"name": row.name, "prefix": row.prefix}
    await record_audit(session, user, "auth.token_created", "api_token", row.id, detail, request)
    return TokenCreated(**_token_out(ctx, row).model_dump(), token=token)


@router.get(
    "/tokens",
    response_model=list[TokenOut],
    summary="The current user's API tokens (without the tokens themselves)",
    responses=UNAUTHORIZED,
)
async def list_api_tokens(
    request: Request, user: CurrentUser, session: DbSession
) -> list[TokenOut]:
    ctx = web_context(request)
    rows = await session.scalars(
        select(ApiToken).where(ApiToken.user_id == user.id).order_by(ApiToken.id)
    )
    return [_token_out(ctx, row) for row in rows]


# What the DELETE of one's own token or session answers: 204, or 404 for anyone else's.
REVOKED: dict[str, Any] = {
    "status_code": status.HTTP_204_NO_CONTENT,
    "response_class": Response,
    "responses": {**UNAUTHORIZED, 404: {"model": ErrorOut}},
}


def _revoke_route(
    path: str,
    model: type[ApiToken] | type[AuthSession],
    name: str,
    summary: str,
    action: str,
    detail: Callable[[Any], dict[str, Any]],
) -> None:
    """``DELETE path`` (``.../{<row>_id}``): revoke one of the current user's own ``model`` rows,
    once, audited as ``action`` with ``detail(row)`` (204); anyone else's is a 404 like a missing
    one. ``name`` is the operation's name."""
    what, subject = ("API token", "api_token") if model is ApiToken else ("session", "session")
    row_id_type = row_id_param(path.rsplit("{", 1)[1].rstrip("}"))

    async def endpoint(
        row_id: row_id_type,  # type: ignore[valid-type]
        request: Request,
        user: CurrentUser,
        session: DbSession,
    ) -> Response:
        row: ApiToken | AuthSession | None = await session.get(model, row_id)
        if row is None or row.user_id != user.id:
            raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} {row_id} not found")
        if row.revoked_at is None:
            row.revoked_at = web_context(request).clock()
            await record_audit(session, user, action, subject, row.id, detail(row), request)
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    router.add_api_route(path, endpoint, methods=["DELETE"], name=name, summary=summary, **REVOKED)


_revoke_route(
    "/tokens/{token_id}",
    ApiToken,
    "revoke_api_token",
    "Revoke one of the current user's API tokens (another user's is a 404)",
    "auth.token_revoked",
    lambda row: {"name": row.name, "prefix": row.prefix},
)


@router.get(
    "/sessions",
    response_model=list[SessionOut],
    summary="The current user's live browser sessions, newest first",
    responses=UNAUTHORIZED,
)
async def list_sessions(
    request: Request, user: CurrentUser, session: DbSession
) -> list[SessionOut]:
    ctx = web_context(request)
    now, lifetime, current = ctx.clock(), ctx.session_lifetime, current_session_id(request)
    rows = await session.scalars(
        select(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.revoked_at.is_(None))
        .order_by(AuthSession.id.desc())
    )
    return [
        _out(
            SessionOut,
            row,
            expires_at=lifetime.expires_at(row.created_at, row.last_seen_at),
            current=row.id == current,
        )
        for row in rows
        if not lifetime.expired(row.created_at, row.last_seen_at, now)
    ]


_revoke_route(
    "/sessions/{session_id}",
    AuthSession,
    "end_session",
    "End one of the current user's browser sessions (another user's is a 404)",
    "auth.session_ended",
    lambda _row: {},
)
