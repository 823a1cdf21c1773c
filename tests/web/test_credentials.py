"""A user's own credentials: changing the password (ends every session and token, counted by the
login limiter, validated, audited), tokens minted only from a browser session, the token list
and revocation. On SQLite and PostgreSQL."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ils.domain.db import Database
from ils.domain.enums import Role
from ils.domain.models.accounts import ApiToken, User
from ils.domain.models.audit import AuditEntry
from ils.domain.passwords import MIN_PASSWORD_LENGTH, verify_password
from tests.web.conftest import PASSWORD, Accounts, csrf_headers, logged_in, login, make_client

NEW_PASSWORD = "a much longer passphrase of mine"
ROLE = Role.optometrist


async def change(
    client: httpx.AsyncClient, old: str, new: str, headers: dict[str, str] | None = None
) -> httpx.Response:
    if headers is None:
        headers = csrf_headers(client)
    body = {"old_password": old, "new_password": new}
    return await client.post("/api/auth/password", json=body, headers=headers)


async def token_of(browser: httpx.AsyncClient, name: str = "script") -> dict[str, str]:
    created = await browser.post(
        "/api/auth/tokens", json={"name": name}, headers=csrf_headers(browser)
    )
    assert created.status_code == 201, created.text
    return {"Authorization": f"Bearer {created.json()['token']}"}


async def stored_hash(db: Database, user_id: int) -> str:
    async with db.session() as s:
        user = await s.get(User, user_id)
        assert user is not None
        return user.password_hash


async def test_a_password_change_ends_other_sessions_and_every_token(
    api: FastAPI, accounts: Accounts, db: Database
):
    async with logged_in(api, ROLE) as browser, logged_in(api, ROLE, ip="198.51.100.4") as other:
        first, second = await token_of(browser, "one"), await token_of(browser, "two")
        old_cookie = browser.cookies["ils_session"]
        changed = await change(browser, PASSWORD, NEW_PASSWORD)
        assert changed.status_code == 200, changed.text
        body = changed.json()
        assert (body["sessions_revoked"], body["tokens_revoked"]) == (2, 2)
        # The browser that changed it carries on, on a new session with a new CSRF token.
        assert browser.cookies["ils_session"] != old_cookie
        assert body["csrf_token"] == browser.cookies["ils_csrf"]
        assert (await browser.get("/api/auth/me")).status_code == 200
        assert (await other.get("/api/auth/me")).status_code == 401
        async with make_client(api) as script, make_client(api) as thief:
            for auth in (first, second):
                assert (await script.get("/api/auth/me", headers=auth)).status_code == 401
            thief.cookies.set("ils_session", old_cookie)
            assert (await thief.get("/api/auth/me")).status_code == 401
        tokens = (await browser.get("/api/auth/tokens")).json()
        assert [t["active"] for t in tokens] == [False, False]
    assert verify_password(await stored_hash(db, accounts.by_role[ROLE]), NEW_PASSWORD)
    async with make_client(api) as fresh:
        assert (await login(fresh, Accounts.email(ROLE))).status_code == 401
        assert (await login(fresh, Accounts.email(ROLE), NEW_PASSWORD)).status_code == 200
    async with db.session() as s:
        entry = (
            await s.scalars(select(AuditEntry).where(AuditEntry.action == "auth.password_changed"))
        ).one()
        assert entry.user_id == accounts.by_role[ROLE]
        assert entry.detail == {"sessions_revoked": 2, "tokens_revoked": 2}
        assert PASSWORD not in str(entry.detail) and NEW_PASSWORD not in str(entry.detail)


async def test_a_password_change_by_api_token_revokes_that_token_too(
    api: FastAPI, accounts: Accounts
):
    async with logged_in(api, ROLE) as browser:
        auth = await token_of(browser)
        async with make_client(api) as script:
            changed = await change(script, PASSWORD, NEW_PASSWORD, headers=auth)
            assert changed.status_code == 200
            assert changed.json() == {
                "sessions_revoked": 1,
                "tokens_revoked": 1,
                "csrf_token": None,
            }
            assert "set-cookie" not in changed.headers
            assert (await script.get("/api/auth/me", headers=auth)).status_code == 401
        assert (await browser.get("/api/auth/me")).status_code == 401


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"old_password": PASSWORD, "new_password": "x" * (MIN_PASSWORD_LENGTH - 1)},
            "new_password",
        ),
        ({"old_password": PASSWORD, "new_password": PASSWORD}, "new_password"),
        ({"old_password": PASSWORD, "new_password": " " * 20}, "new_password"),
        ({"old_password": PASSWORD, "new_password": "y" * 1025}, "new_password"),
        ({"new_password": NEW_PASSWORD}, "old_password"),
        ({"old_password": PASSWORD, "new_password": NEW_PASSWORD, "admin": True}, "admin"),
    ],
)
async def test_a_bad_password_change_is_a_422_naming_the_field_and_changes_nothing(
    api: FastAPI, accounts: Accounts, db: Database, body: dict[str, object], field: str
):
    before = await stored_hash(db, accounts.by_role[ROLE])
    async with logged_in(api, ROLE) as browser:
        answer = await browser.post("/api/auth/password", json=body, headers=csrf_headers(browser))
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["loc"] == ["body", field]
        assert (await browser.get("/api/auth/me")).status_code == 200
    assert await stored_hash(db, accounts.by_role[ROLE]) == before


async def test_the_password_route_needs_a_login_and_the_csrf_header(
    api: FastAPI, accounts: Accounts, db: Database
):
    before = await stored_hash(db, accounts.by_role[ROLE])
    async with make_client(api) as anonymous:
        assert (await change(anonymous, PASSWORD, NEW_PASSWORD, headers={})).status_code == 401
    async with logged_in(api, ROLE) as browser:
        assert (await change(browser, PASSWORD, NEW_PASSWORD, headers={})).status_code == 403
    assert await stored_hash(db, accounts.by_role[ROLE]) == before


async def test_a_wrong_old_password_is_a_403_counted_by_the_login_limiter(
    api: FastAPI, accounts: Accounts, db: Database
):
    before = await stored_hash(db, accounts.by_role[ROLE])
    async with logged_in(api, ROLE) as browser:
        for _ in range(5):
            wrong = await change(browser, "not my password", NEW_PASSWORD)
            assert (
                wrong.status_code == 403 and wrong.json()["detail"] == "the old password is wrong"
            )
        blocked = await change(browser, PASSWORD, NEW_PASSWORD)  # even the right one now
        assert blocked.status_code == 429 and int(blocked.headers["retry-after"]) > 0
        assert (await browser.get("/api/auth/me")).status_code == 200  # still logged in
        # One counter for both doors: the login form is closed to this account and address too.
        assert (await login(browser, Accounts.email(ROLE))).status_code == 429
    assert await stored_hash(db, accounts.by_role[ROLE]) == before
    async with db.session() as s:
        refused = await s.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(AuditEntry.action == "auth.password_change_refused")
        )
    assert refused == 5


async def test_an_api_token_cannot_mint_tokens(api: FastAPI, accounts: Accounts, db: Database):
    async with logged_in(api, Role.admin) as browser:
        auth = await token_of(browser)
        async with make_client(api) as script:
            minted = await script.post("/api/auth/tokens", json={"name": "more"}, headers=auth)
            assert minted.status_code == 403 and "browser session" in minted.json()["detail"]
        # A bearer token wins over the cookie sent with it: still refused.
        both = await browser.post(
            "/api/auth/tokens", json={"name": "more"}, headers=auth | csrf_headers(browser)
        )
        assert both.status_code == 403
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(ApiToken)) == 1


async def test_the_token_list_shows_prefix_and_times_never_the_secret(
    api: FastAPI, accounts: Accounts, db: Database
):
    async with logged_in(api, Role.dispenser) as browser:
        created = (
            await browser.post(
                "/api/auth/tokens", json={"name": "export"}, headers=csrf_headers(browser)
            )
        ).json()
        async with make_client(api) as script:
            auth = {"Authorization": f"Bearer {created['token']}"}
            assert (await script.get("/api/auth/me", headers=auth)).status_code == 200
        response = await browser.get("/api/auth/tokens")
    (listed,) = response.json()
    assert set(listed) == {
        "id", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at", "active",
    }  # fmt: skip
    assert listed["prefix"] == created["token"][:12] and listed["last_used_at"] is not None
    assert listed["active"] is True and listed["expires_at"] > listed["last_used_at"]
    async with db.session() as s:
        token_hash = (await s.scalars(select(ApiToken.token_hash))).one()
    assert created["token"] not in response.text and token_hash not in response.text


async def test_the_owner_revokes_a_token_and_another_users_token_is_a_404(
    api: FastAPI, accounts: Accounts
):
    async with logged_in(api, Role.staff) as owner:
        auth = await token_of(owner)
        (row,) = (await owner.get("/api/auth/tokens")).json()
        async with logged_in(api, Role.company_admin) as colleague:
            other = await colleague.delete(
                f"/api/auth/tokens/{row['id']}", headers=csrf_headers(colleague)
            )
            assert other.status_code == 404
            assert (await colleague.get("/api/auth/tokens")).json() == []
        async with make_client(api) as script:
            assert (await script.get("/api/auth/me", headers=auth)).status_code == 200
            for _ in range(2):  # revoking twice is harmless
                revoked = await owner.delete(
                    f"/api/auth/tokens/{row['id']}", headers=csrf_headers(owner)
                )
                assert revoked.status_code == 204
            assert (await script.get("/api/auth/me", headers=auth)).status_code == 401
        missing = await owner.delete("/api/auth/tokens/987654", headers=csrf_headers(owner))
        assert missing.status_code == 404
