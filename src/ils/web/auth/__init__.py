"""Accounts and security of the web app: sessions, CSRF, API tokens, roles, company scoping, audit.

Route authors use these (all importable from ``ils.web.auth``)::

    from ils.web.auth import CurrentUser, DbSession, get_owned, record_audit, require_roles

    @router.post("/api/orders/{order_id}/cancel")
    async def cancel(order_id: int, request: Request, user: CurrentUser, session: DbSession):
        order = await get_owned(session, Order, order_id, user)      # 404 if not theirs
        ...
        await record_audit(session, user, "order.cancelled", "order", order.id, {}, request)

``current_user(...) -> User`` (alias ``CurrentUser``)
    The active user behind ``Authorization: Bearer <token>`` or, failing that, the session
    cookie; 401 otherwise. A cookie-authenticated POST/PUT/PATCH/DELETE must carry the
    ``X-CSRF-Token`` header (the ``ils_csrf`` cookie's value), else 403; bearer requests are
    exempt. The route needs no CSRF code of its own: depending on ``CurrentUser`` is enough.
    Sessions live in the database (logout revokes them); sessions and tokens past their idle
    or absolute lifetime (``ILS_SESSION_*`` / ``ILS_TOKEN_*``) are a 401.
``session_user(...) -> User`` (alias ``SessionUser``)
    Like ``CurrentUser``, but only for a browser session: a request authenticated by an API
    token is a 403. For actions a leaked token must not take, such as minting tokens.
``require_roles(*roles: Role) -> dependency returning User``
    ``user: Annotated[User, Depends(require_roles(Role.admin, Role.platform_admin))]``;
    401 without credentials, 403 when the user's role is not one of ``roles``.
``db_session(request) -> AsyncSession`` (alias ``DbSession``)
    One transaction per request, shared by every dependency of that request: committed when the
    route returns (before the response is sent, so a failed commit is the answer, e.g. 409),
    rolled back when it raises. Do not commit yourself; ``flush()`` when you need ids. A yield
    dependency of your own that takes ``DbSession`` must also be ``scope="function"``.
``permit(action) -> Depends``
    The route's entry in the role-by-action table (:mod:`ils.web.auth.policy`):
    ``@router.post(..., dependencies=[permit("invoices.issue")])``; 403 for a role not allowed.
    ``ensure(user, action)`` is the same check where it needs a row first (documents).
``get_owned(session, Model, id, user) -> Model``
    The row if ``row.company_id == user.company_id`` (``platform_admin`` sees every company);
    404 for missing rows and for other companies' rows alike (never 403).
``record_audit(session, user, action, target_type, target_id, detail, request) -> AuditEntry``
    Adds an audit entry (user, company, client IP) to the request's transaction. Never put
    secrets, tokens or patient data in ``detail``.
``web_context(request) -> WebContext``
    The app's job system (``.system.admin``, ``.system.producer``...) and web settings.
"""

from ils.web.auth.audit import client_ip, record_audit
from ils.web.auth.context import WebContext, web_context
from ils.web.auth.dependencies import (
    CurrentUser,
    DbSession,
    SessionUser,
    auth_method,
    current_user,
    db_session,
    require_roles,
    session_user,
)
from ils.web.auth.ownership import get_owned, sees_all_companies
from ils.web.auth.policy import allows, ensure, permit

__all__ = [
    "CurrentUser",
    "DbSession",
    "SessionUser",
    "WebContext",
    "allows",
    "auth_method",
    "client_ip",
    "current_user",
    "db_session",
    "ensure",
    "get_owned",
    "permit",
    "record_audit",
    "require_roles",
    "sees_all_companies",
    "session_user",
    "web_context",
]
