"""The dashboard's pages: who is sent to the login form, who gets the "not allowed" page, who gets
the queue-wide actions, and that its assets are served by the app itself."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from ils.domain.enums import Role
from tests.web.conftest import logged_in, make_client


async def test_without_a_session_the_dashboard_sends_to_the_login_form(api: FastAPI):
    async with make_client(api) as client:
        response = await client.get("/admin/queues")
        assert response.status_code == 303
        assert response.headers["location"] == "/admin/login?next=/admin/queues"
        form = await client.get("/admin/login?next=/admin/queues")
        assert form.status_code == 200
        assert 'id="login-form"' in form.text and 'data-next="/admin/queues"' in form.text


async def test_the_login_form_sends_only_to_the_dashboard_never_elsewhere(api: FastAPI):
    async with make_client(api) as client:
        for target in ("https://example.com/", "//example.com/admin/", "/api/queue/stats"):
            form = await client.get("/admin/login", params={"next": target})
            assert 'data-next="/admin/queues"' in form.text, target


@pytest.mark.parametrize("role", [Role.staff, Role.optometrist, Role.lab_technician])
async def test_a_user_without_an_admin_role_gets_the_not_allowed_page(api: FastAPI, role: Role):
    async with logged_in(api, role) as client:
        response = await client.get("/admin/queues")
        assert response.status_code == 403
        assert "Not allowed" in response.text
        assert "dashboard.js" not in response.text


@pytest.mark.parametrize(
    ("role", "can_operate"),
    [(Role.platform_admin, "true"), (Role.admin, "false"), (Role.company_admin, "false")],
)
async def test_admin_roles_get_the_dashboard_queue_actions_for_the_platform_admin(
    api: FastAPI, role: Role, can_operate: str
):
    async with logged_in(api, role) as client:
        response = await client.get("/admin/queues")
        assert response.status_code == 200
        assert 'data-can-act="true"' in response.text  # its own company's jobs
        assert f'data-can-operate="{can_operate}"' in response.text  # whole queues
        assert 'data-queues="email,pdf,notification,ai,oma,scheduled"' in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]
        # Logged in already: the login form sends straight on.
        again = await client.get("/admin/login")
        assert again.status_code == 303 and again.headers["location"] == "/admin/queues"


async def test_an_orders_page_is_for_whoever_reads_orders(api: FastAPI):
    async with make_client(api) as client:
        away = await client.get("/admin/orders/7")
        assert away.status_code == 303
        assert away.headers["location"] == "/admin/login?next=/admin/orders/7"
    async with logged_in(api, Role.lab_technician) as client:
        response = await client.get("/admin/orders/7")
        assert response.status_code == 200
        # A shell: its script reads the order and its trace through the tenant-checked API.
        assert 'data-order-id="7"' in response.text and "order.js" in response.text
        assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize(
    "asset",
    [
        "dashboard.js",
        "jobs.js",
        "paged.js",
        "dialogs.js",
        "charts.js",
        "api.js",
        "order.js",
        "dashboard.css",
    ],
)
async def test_the_assets_are_served_by_the_app(api: FastAPI, asset: str):
    async with make_client(api) as client:
        response = await client.get(f"/admin/static/{asset}")
        assert response.status_code == 200
        kind = "css" if asset.endswith(".css") else "javascript"
        assert kind in response.headers["content-type"]
        # Nothing loaded from elsewhere (the SVG namespace is a name, not a download).
        text = response.text.replace("http://www.w3.org/2000/svg", "")
        assert "http://" not in text and "https://" not in text
