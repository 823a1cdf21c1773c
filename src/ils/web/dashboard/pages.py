"""The dashboard's HTML pages: the queue dashboard, the schedules tab, the event log, the
webhooks page, the demand-forecast page, an order's page (its lens shapes), the login form and
the "not allowed" page.

Who sees what: no session goes to the login form; a user without an admin role gets a 403 page;
``admin`` and ``company_admin`` get the dashboard of their company's jobs with the job actions;
``platform_admin`` gets every company's and the queue-wide actions too (the API enforces the same
rules whatever the page shows: the page only hides buttons).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from ils.domain.enums import ADMIN_ROLES, Role
from ils.domain.models.accounts import User
from ils.queue.settings import QUEUE_NAMES
from ils.queue.states import CANCELLABLE_STATES, COUNT_STATES, FINAL_STATES, LIST_STATES
from ils.web.auth.dependencies import DbSession, cookie_scheme, current_user
from ils.web.auth.policy import allows

HERE = Path(__file__).resolve().parent
DASHBOARD_PATH = "/admin/queues"
FORECASTS_PATH = "/admin/forecasts"
SCHEDULES_PATH = "/admin/schedules"
WEBHOOKS_PATH = "/admin/webhooks"
EVENTS_PATH = "/admin/events"
ORDER_PATH = "/admin/orders/{order_id}"
LOGIN_PATH = "/admin/login"
STATIC_PATH = "/admin/static"
OPERATOR_ROLES = frozenset({Role.platform_admin})

# The pages load only their own scripts and styles; nothing inline, nothing from elsewhere.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; object-src 'none'; "
        "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

templates = Jinja2Templates(directory=HERE / "templates")
router = APIRouter(include_in_schema=False)


async def page_user(
    request: Request,
    session: DbSession,
    cookie: Annotated[str | None, Depends(cookie_scheme)],
) -> User | None:
    """The user of the request's session cookie, or None (no cookie, expired, forged)."""
    if not cookie:
        return None
    try:
        return await current_user(request, session, None, cookie)
    except HTTPException:
        return None


PageUser = Annotated[User | None, Depends(page_user)]


def _page(request: Request, name: str, status_code: int = 200, **context: object) -> Response:
    response = templates.TemplateResponse(
        request, name, {"static": STATIC_PATH, **context}, status_code=status_code
    )
    response.headers.update(SECURITY_HEADERS)
    return response


def _local_next(target: str | None) -> str:
    """Where to go after logging in: only a path of the dashboard, never another site."""
    if target and target.startswith("/admin/") and not target.startswith("//"):
        return target
    return DASHBOARD_PATH


@router.get(DASHBOARD_PATH, response_class=HTMLResponse)
async def dashboard(request: Request, user: PageUser) -> Response:
    if user is None:
        return RedirectResponse(
            f"{LOGIN_PATH}?next={quote(DASHBOARD_PATH)}", status.HTTP_303_SEE_OTHER
        )
    if user.role not in ADMIN_ROLES:
        return _page(request, "forbidden.html", status.HTTP_403_FORBIDDEN, user=user)
    return _page(
        request,
        "dashboard.html",
        user=user,
        can_act=True,
        can_operate=user.role in OPERATOR_ROLES,
        queues=QUEUE_NAMES,
        states=LIST_STATES,
        count_states=COUNT_STATES,
        final_states=FINAL_STATES,
        cancellable_states=CANCELLABLE_STATES,
    )


def _turned_away(
    request: Request, user: User | None, path: str, action: str, reason: str | None = None
) -> Response | None:
    """The login form for no session, the not-allowed page for a role ``action`` leaves out;
    None when ``user`` may see the page at ``path``."""
    if user is None:
        return RedirectResponse(f"{LOGIN_PATH}?next={quote(path)}", status.HTTP_303_SEE_OTHER)
    if not allows(user.role, action):
        said = {"reason": reason} if reason else {}  # none: the page's own sentence
        return _page(request, "forbidden.html", status.HTTP_403_FORBIDDEN, user=user, **said)
    return None


@router.get(FORECASTS_PATH, response_class=HTMLResponse)
async def forecasts(request: Request, user: PageUser) -> Response:
    """The reorder list and a product's forecast chart, for the roles that buy stock; at the
    company's service level unless the user picks another, which its admins may save."""
    reason = "Demand forecasts are for the roles that buy stock: admins, dispensers, labs."
    if away := _turned_away(request, user, FORECASTS_PATH, "ai.forecasts", reason):
        return away
    can_save = user is not None and allows(user.role, "ai.settings")
    return _page(request, "forecasts.html", user=user, can_save=can_save)


def _company_page(path: str, template: str, action: str, name: str, doc: str) -> None:
    """``GET path``: the page ``template`` for the roles ``action`` allows, showing the user's
    company's rows (every company's, for platform admins). ``name`` is the route's name."""

    async def endpoint(request: Request, user: PageUser) -> Response:
        if away := _turned_away(request, user, path, action):
            return away
        assert user is not None
        return _page(request, template, user=user, every_company=user.role in OPERATOR_ROLES)

    endpoint.__doc__ = doc
    router.add_api_route(path, endpoint, methods=["GET"], name=name, response_class=HTMLResponse)


_company_page(
    SCHEDULES_PATH,
    "schedules.html",
    "schedules.read",
    "schedules",
    "The schedules tab: the company's recurring jobs (every one, for platform admins).",
)
_company_page(
    EVENTS_PATH,
    "events.html",
    "events.read",
    "events",
    "The event log: the company's domain events, newest first, filtered by type, a page at a "
    "time, with new ones arriving live (every company's, for platform admins).",
)
_company_page(
    WEBHOOKS_PATH,
    "webhooks.html",
    "webhooks.manage",
    "webhooks",
    "The webhooks page: the company's endpoints (every one, for platform admins) and their "
    "delivery logs.",
)


@router.get(ORDER_PATH, response_class=HTMLResponse)
async def order(request: Request, user: PageUser, order_id: int) -> Response:
    """An order and the lens shapes of its newest OMA file, for whoever may read orders; the
    page's script reads both through the API, which answers for the user's company's orders
    only (another company's reads as not found)."""
    path = ORDER_PATH.format(order_id=order_id)
    if away := _turned_away(request, user, path, "orders.read"):
        return away
    return _page(request, "order.html", user=user, order_id=order_id)


@router.get(LOGIN_PATH, response_class=HTMLResponse)
async def login_page(
    request: Request,
    user: PageUser,
    next_: Annotated[str | None, Query(alias="next", max_length=200)] = None,
) -> Response:
    target = _local_next(next_)
    if user is not None:
        return RedirectResponse(target, status.HTTP_303_SEE_OTHER)
    return _page(request, "login.html", next=target)


def install_dashboard(app: FastAPI) -> None:
    """Add the dashboard's pages and its static files to ``app``."""
    app.include_router(router)
    app.mount(STATIC_PATH, StaticFiles(directory=HERE / "static"), name="dashboard-static")
