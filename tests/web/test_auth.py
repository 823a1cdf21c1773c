"""Login, cookie sessions with CSRF, API tokens, logout: on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.enums import Role
from ils.domain.models.accounts import ApiToken, User
from ils.domain.passwords import hash_password
from tests.web.conftest import (
    INACTIVE_EMAIL,
    Accounts,
    csrf_headers,
    logged_in,
    login,
    make_client,
)


async def test_login_sets_an_http_only_session_and_a_readable_csrf_cookie(
    client: httpx.AsyncClient, accounts: Accounts, db: Database
):
    response = await login(client, "Company_Admin@A.localhost ")  # case and spaces do not matter
    assert response.status_code == 200
    body = response.json()
    assert body["user"]["id"] == accounts.by_role[Role.company_admin]
    assert body["user"]["role"] == "company_admin" and "password_hash" not in body["user"]
    cookies = {c.split("=", 1)[0]: c.lower() for c in response.headers.get_list("set-cookie")}
    assert "httponly" in cookies["ils_session"] and "samesite=lax" in cookies["ils_session"]
    assert "httponly" not in cookies["ils_csrf"]
    assert "max-age=604800" in cookies["ils_session"]  # the absolute lifetime, 7 days
    assert body["csrf_token"] == client.cookies["ils_csrf"]
    async with db.session() as s:
        user = await s.get(User, accounts.by_role[Role.company_admin])
        assert user is not None and user.last_login_at is not None


async def test_wrong_password_unknown_email_and_inactive_user_get_the_same_401(
    client: httpx.AsyncClient, accounts: Accounts
):
    for email, password in (
        (Accounts.email(Role.admin), "not the password"),
        ("nobody@a.localhost", "whatever"),
        (INACTIVE_EMAIL, None),  # the right password, but the account is disabled
    ):
        response = await (login(client, email, password) if password else login(client, email))
        assert response.status_code == 401, email
        assert response.json() == {"detail": "invalid email or password"}
        assert "ils_session" not in client.cookies


async def test_login_with_a_malformed_body_is_a_422_naming_the_field(client: httpx.AsyncClient):
    response = await client.post("/api/auth/login", json={"email": "a@a.localhost"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "password"]


async def test_a_cookie_session_authenticates_reads(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.optometrist) as client:
        me = await client.get("/api/auth/me")
        assert me.status_code == 200
        assert me.json()["user"]["email"] == Accounts.email(Role.optometrist)
        assert me.json()["auth"] == "session"
        assert me.json()["csrf_token"] == client.cookies["ils_csrf"]
    async with make_client(app) as anonymous:
        assert (await anonymous.get("/api/auth/me")).status_code == 401


async def test_state_changes_by_cookie_need_the_csrf_header(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.dispenser) as client:
        bare = await client.post("/api/auth/tokens", json={"name": "script"})
        assert bare.status_code == 403 and "CSRF" in bare.json()["detail"]
        wrong = await client.post(
            "/api/auth/tokens", json={"name": "script"}, headers={"X-CSRF-Token": "guess"}
        )
        assert wrong.status_code == 403
        ok = await client.post(
            "/api/auth/tokens", json={"name": "script"}, headers=csrf_headers(client)
        )
        assert ok.status_code == 201
        assert (await client.get("/api/auth/tokens")).json()[0]["name"] == "script"


async def test_a_forged_or_foreign_session_cookie_is_refused(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.staff) as client:
        value = client.cookies["ils_session"]
        client.cookies.set("ils_session", value[:-2] + ("AA" if value[-2:] != "AA" else "BB"))
        assert (await client.get("/api/auth/me")).status_code == 401


async def test_a_password_change_ends_existing_sessions(
    app: FastAPI, accounts: Accounts, db: Database
):
    async with logged_in(app, Role.staff) as client:
        async with db.session() as s:
            user = await s.get(User, accounts.by_role[Role.staff])
            assert user is not None
            user.password_hash = hash_password("a new passphrase")
        assert (await client.get("/api/auth/me")).status_code == 401


async def test_bearer_tokens_authenticate_without_csrf_and_are_stored_hashed(
    app: FastAPI, accounts: Accounts, db: Database
):
    async with logged_in(app, Role.admin) as browser:
        created = await browser.post(
            "/api/auth/tokens", json={"name": "nightly export"}, headers=csrf_headers(browser)
        )
    token = created.json()["token"]
    assert created.json()["prefix"] == token[:12]
    async with make_client(app) as api:
        auth = {"Authorization": f"Bearer {token}"}
        me = await api.get("/api/auth/me", headers=auth)
        assert me.status_code == 200 and me.json()["auth"] == "token"
        assert me.json()["csrf_token"] is None
        revoked = await api.delete("/api/auth/tokens/999999", headers=auth)
        assert revoked.status_code == 404  # no X-CSRF-Token needed: 404, not 403
        listed = (await api.get("/api/auth/tokens", headers=auth)).json()
        assert [t["name"] for t in listed] == ["nightly export"]
        assert all("token" not in t for t in listed)
    async with db.session() as s:
        row = (
            await s.execute(select(ApiToken).where(ApiToken.name == "nightly export"))
        ).scalar_one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()
        assert row.last_used_at is not None


async def test_a_revoked_or_unknown_token_is_a_401(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.admin) as browser:
        created = (
            await browser.post(
                "/api/auth/tokens", json={"name": "ci"}, headers=csrf_headers(browser)
            )
        ).json()
        auth = {"Authorization": f"Bearer {created['token']}"}
        async with make_client(app) as api:
            assert (await api.get("/api/auth/me", headers=auth)).status_code == 200
            revoked = await browser.delete(
                f"/api/auth/tokens/{created['id']}", headers=csrf_headers(browser)
            )
            assert revoked.status_code == 204
            after = await api.get("/api/auth/me", headers=auth)
            assert after.status_code == 401
            assert after.headers["www-authenticate"] == "Bearer"
            bogus = await api.get("/api/auth/me", headers={"Authorization": "Bearer ils_nope"})
            assert bogus.status_code == 401
        listed = (await browser.get("/api/auth/tokens")).json()
        assert listed[0]["revoked_at"] is not None


async def test_tokens_of_other_users_cannot_be_revoked(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.admin) as owner:
        created = (
            await owner.post("/api/auth/tokens", json={"name": "mine"}, headers=csrf_headers(owner))
        ).json()
    async with logged_in(app, Role.platform_admin) as other:
        response = await other.delete(
            f"/api/auth/tokens/{created['id']}", headers=csrf_headers(other)
        )
        assert response.status_code == 404
        assert (await other.get("/api/auth/tokens")).json() == []


async def test_a_token_of_a_deactivated_user_stops_working(
    app: FastAPI, accounts: Accounts, db: Database
):
    async with logged_in(app, Role.lab_technician) as browser:
        token = (
            await browser.post(
                "/api/auth/tokens", json={"name": "x"}, headers=csrf_headers(browser)
            )
        ).json()["token"]
    async with db.session() as s:
        user = await s.get(User, accounts.by_role[Role.lab_technician])
        assert user is not None
        user.is_active = False
    async with make_client(app) as api:
        response = await api.get("/api/auth/me", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401


async def test_logout_needs_csrf_then_clears_the_session(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.company_admin) as client:
        assert (await client.post("/api/auth/logout")).status_code == 403
        out = await client.post("/api/auth/logout", headers=csrf_headers(client))
        assert out.status_code == 204
        assert "ils_session" not in client.cookies and "ils_csrf" not in client.cookies
        assert (await client.get("/api/auth/me")).status_code == 401
        # Logging out without a session is harmless.
        assert (await client.post("/api/auth/logout")).status_code == 204
