"""Browser sessions held server-side and API token lifetimes: logout revokes the session (a
copied cookie stops working), idle and absolute expiry of sessions and tokens, the user's list
of sessions. On SQLite and PostgreSQL; time moves by an injected clock, never by sleeping."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, WebSocket
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import Role
from ils.domain.models.accounts import AuthSession
from ils.domain.models.audit import AuditEntry
from ils.queue.settings import Settings
from ils.settings import load_web_settings
from ils.web.auth.sockets import authenticate_socket
from tests.conftest import probe_registry
from tests.web.clock import ManualClock, install_clock
from tests.web.conftest import Accounts, csrf_headers, logged_in, make_client, serve


@pytest.fixture
def clock(api: FastAPI) -> ManualClock:
    return install_clock(api)


def copy_of(client: httpx.AsyncClient, app: FastAPI) -> httpx.AsyncClient:
    """Another client holding the same cookies (a stolen or copied cookie)."""
    thief = make_client(app, ip="203.0.113.9")
    for name, value in client.cookies.items():
        thief.cookies.set(name, value)
    return thief


async def me(client: httpx.AsyncClient, headers: dict[str, str] | None = None) -> int:
    return (await client.get("/api/auth/me", headers=headers)).status_code


async def new_token(app: FastAPI, role: Role = Role.admin) -> dict[str, str]:
    async with logged_in(app, role) as browser:
        created = await browser.post(
            "/api/auth/tokens", json={"name": "script"}, headers=csrf_headers(browser)
        )
        assert created.status_code == 201, created.text
        return {"Authorization": f"Bearer {created.json()['token']}"}


async def test_logout_revokes_the_session_so_a_copied_cookie_is_a_401(
    api: FastAPI, accounts: Accounts, db: Database
):
    async with logged_in(api, Role.dispenser) as browser, copy_of(browser, api) as thief:
        assert await me(thief) == 200  # the copy works while the session lives
        out = await browser.post("/api/auth/logout", headers=csrf_headers(browser))
        assert out.status_code == 204
        assert await me(thief) == 401
        # Nor can the copy act, CSRF token in hand.
        refused = await thief.post(
            "/api/auth/tokens",
            json={"name": "x"},
            headers={"X-CSRF-Token": thief.cookies["ils_csrf"]},
        )
        assert refused.status_code == 401
    async with db.session() as s:
        rows = (await s.scalars(select(AuthSession))).all()
        assert len(rows) == 1 and rows[0].revoked_at is not None
        assert rows[0].user_id == accounts.by_role[Role.dispenser]
        actions = (await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id))).all()
        assert actions == ["auth.login", "auth.logout"]


async def test_the_session_row_keeps_only_a_hash_of_the_cookie_secret(
    api: FastAPI, accounts: Accounts, db: Database
):
    async with logged_in(api, Role.staff, ip="198.51.100.7") as browser:
        cookie = browser.cookies["ils_session"]
    async with db.session() as s:
        row = (await s.scalars(select(AuthSession))).one()
    assert len(row.secret_hash) == 64 and row.secret_hash not in cookie
    assert row.ip == "198.51.100.7"


async def test_a_session_unused_for_the_idle_lifetime_is_a_401(
    api: FastAPI, accounts: Accounts, clock: ManualClock
):
    async with logged_in(api, Role.optometrist) as browser:
        # Used every 11 hours, a session outlives the 12-hour idle limit several times over.
        for _ in range(3):
            clock.advance(hours=11)
            assert await me(browser) == 200
        clock.advance(hours=12)
        answer = await browser.get("/api/auth/me")
        assert answer.status_code == 401 and "expired" in answer.json()["detail"]


async def test_a_session_ends_at_the_absolute_lifetime_even_when_in_use(
    api: FastAPI, accounts: Accounts, clock: ManualClock
):
    async with logged_in(api, Role.optometrist) as browser:
        for _ in range(6 * 4 + 3):  # every 6 hours, up to 6 days 18 hours
            clock.advance(hours=6)
            assert await me(browser) == 200
        clock.advance(hours=6)  # 7 days after login
        assert await me(browser) == 401


async def test_an_api_token_unused_for_the_idle_lifetime_is_a_401(
    api: FastAPI, accounts: Accounts, clock: ManualClock
):
    auth = await new_token(api)
    async with make_client(api) as script:
        clock.advance(hours=11, minutes=59)
        assert await me(script, headers=auth) == 200
        clock.advance(hours=11, minutes=59)  # measured from the last use
        assert await me(script, headers=auth) == 200
        clock.advance(hours=12)
        answer = await script.get("/api/auth/me", headers=auth)
        assert answer.status_code == 401 and "expired" in answer.json()["detail"]


async def test_an_api_token_ends_at_the_absolute_lifetime_even_when_in_use(
    api: FastAPI, accounts: Accounts, clock: ManualClock
):
    auth = await new_token(api)
    async with make_client(api) as script:
        for _ in range(6 * 4 + 3):
            clock.advance(hours=6)
            assert await me(script, headers=auth) == 200
        clock.advance(hours=6)  # 7 days after it was made
        assert await me(script, headers=auth) == 401
    async with logged_in(api, Role.admin) as owner:
        (listed,) = (await owner.get("/api/auth/tokens")).json()
    assert listed["active"] is False and listed["revoked_at"] is None
    created = dt.datetime.fromisoformat(listed["created_at"])
    assert dt.datetime.fromisoformat(listed["expires_at"]) == created + dt.timedelta(days=7)


async def test_the_user_lists_live_sessions_and_ends_one_elsewhere(
    api: FastAPI, accounts: Accounts
):
    async with (
        logged_in(api, Role.lab_technician) as laptop,
        logged_in(api, Role.lab_technician, ip="198.51.100.30") as phone,
    ):
        sessions = (await laptop.get("/api/auth/sessions")).json()
        assert [(s["ip"], s["current"]) for s in sessions] == [
            ("198.51.100.30", False),
            ("127.0.0.1", True),
        ]
        assert all("secret" not in key for s in sessions for key in s)
        ended = await laptop.delete(
            f"/api/auth/sessions/{sessions[0]['id']}", headers=csrf_headers(laptop)
        )
        assert ended.status_code == 204
        assert await me(phone) == 401 and await me(laptop) == 200
        assert [s["current"] for s in (await laptop.get("/api/auth/sessions")).json()] == [True]


async def test_another_users_session_cannot_be_seen_or_ended(api: FastAPI, accounts: Accounts):
    async with logged_in(api, Role.staff) as victim:
        (own,) = (await victim.get("/api/auth/sessions")).json()
        async with logged_in(api, Role.platform_admin) as other:
            listed = (await other.get("/api/auth/sessions")).json()
            assert [s["id"] for s in listed] != [own["id"]] and len(listed) == 1
            answer = await other.delete(
                f"/api/auth/sessions/{own['id']}", headers=csrf_headers(other)
            )
            assert answer.status_code == 404
        assert await me(victim) == 200


async def test_a_login_deletes_the_users_revoked_and_expired_sessions_only(
    api: FastAPI, accounts: Accounts, db: Database, clock: ManualClock
):
    async with logged_in(api, Role.staff) as ended:
        await ended.post("/api/auth/logout", headers=csrf_headers(ended))
    async with logged_in(api, Role.admin) as someone_else:
        await someone_else.post("/api/auth/logout", headers=csrf_headers(someone_else))
    async with logged_in(api, Role.staff) as idle:
        clock.advance(hours=12)
        assert await me(idle) == 401
        async with logged_in(api, Role.staff) as fresh:
            assert await me(fresh) == 200
    async with db.session() as s:
        rows = (await s.execute(select(AuthSession.user_id, AuthSession.revoked_at))).all()
    staff, admin = accounts.by_role[Role.staff], accounts.by_role[Role.admin]
    assert sorted((user_id, revoked is None) for user_id, revoked in rows) == sorted(
        [(staff, True), (admin, False)]
    )


async def test_the_lifetimes_come_from_the_settings(
    settings: Settings, db: Database, accounts: Accounts, tmp_path: Path
):
    env = {
        "ILS_SESSION_IDLE_S": "600",
        "ILS_SESSION_ABSOLUTE_S": "3600",
        "ILS_TOKEN_IDLE_S": "120",
        "ILS_TOKEN_ABSOLUTE_S": "86400",
    }
    system = JobSystem(settings, registry=probe_registry(), database=db)
    async for app in serve(system, load_web_settings(env, tmp_path / "var")):
        clock = install_clock(app)
        auth = await new_token(app)
        async with logged_in(app, Role.staff) as browser, make_client(app) as script:
            clock.advance(minutes=9)
            assert await me(browser) == 200
            assert await me(script, headers=auth) == 401  # 2 minutes idle was the limit
            clock.advance(minutes=10)
            assert await me(browser) == 401  # 10 minutes idle
        async with logged_in(app, Role.staff) as browser:
            for _ in range(6):
                clock.advance(minutes=9)
                assert await me(browser) == 200
            clock.advance(minutes=6)  # an hour after login
            assert await me(browser) == 401


async def test_the_checks_of_an_open_socket_do_not_keep_a_session_from_idling(
    api: FastAPI, accounts: Accounts, clock: ManualClock
):
    async with logged_in(api, Role.dispenser) as browser:
        cookie = f"ils_session={browser.cookies['ils_session']}".encode()
        scope = {"type": "websocket", "path": "/ws", "headers": [(b"cookie", cookie)]}
        socket = WebSocket(scope, receive=_never, send=_never)
        for _ in range(2):
            clock.advance(hours=5)
            assert await authenticate_socket(socket, api.state.web, touch=False) is not None
        clock.advance(hours=3)  # 13 hours without the user doing anything
        assert await authenticate_socket(socket, api.state.web, touch=False) is None
        assert await me(browser) == 401


async def _never(*_: object) -> None:
    raise AssertionError("the check must not talk to the client")
