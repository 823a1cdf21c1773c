"""Company scoping with get_owned (404 across companies) and the audit log written from requests."""

from __future__ import annotations

import pytest
from fastapi import FastAPI, Request
from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.enums import Role
from ils.domain.models.accounts import ApiToken, User
from ils.domain.models.audit import AuditEntry
from ils.web.auth import CurrentUser, DbSession, get_owned, record_audit
from ils.web.auth.schemas import UserOut
from tests.web.conftest import Accounts, csrf_headers, logged_in

CLIENT_IP = "203.0.113.7"


def add_user_route(app: FastAPI) -> None:
    @app.get("/probe/users/{user_id}", response_model=UserOut)
    async def show(user_id: int, user: CurrentUser, session: DbSession) -> User:
        return await get_owned(session, User, user_id, user)

    @app.post("/probe/users/{user_id}/touch")
    async def touch(
        user_id: int, request: Request, user: CurrentUser, session: DbSession
    ) -> dict[str, int]:
        row = await get_owned(session, User, user_id, user)
        await record_audit(session, user, "user.touched", "user", row.id, {"n": 1}, request)
        if request.query_params.get("fail"):
            raise RuntimeError("the route failed after writing its audit entry")
        return {"id": row.id}


async def test_another_companys_row_is_a_404_like_a_missing_one(app: FastAPI, accounts: Accounts):
    add_user_route(app)
    async with logged_in(app, Role.company_admin) as client:
        own = await client.get(f"/probe/users/{accounts.by_role[Role.staff]}")
        assert own.status_code == 200 and own.json()["company_id"] == accounts.company_a
        foreign = await client.get(f"/probe/users/{accounts.outsider}")
        missing = await client.get("/probe/users/999999")
        assert foreign.status_code == missing.status_code == 404
        assert foreign.json()["detail"] == f"User {accounts.outsider} not found"


async def test_the_platform_admin_sees_every_company(app: FastAPI, accounts: Accounts):
    add_user_route(app)
    async with logged_in(app, Role.platform_admin) as client:
        response = await client.get(f"/probe/users/{accounts.outsider}")
        assert response.status_code == 200
        assert response.json()["company_id"] == accounts.company_b


async def test_get_owned_refuses_models_without_a_company(db: Database, accounts: Accounts):
    async with db.session() as s:
        user = await s.get(User, accounts.by_role[Role.admin])
        assert user is not None
        with pytest.raises(TypeError, match="ApiToken has no company_id"):
            await get_owned(s, ApiToken, 1, user)


async def test_audit_entries_record_who_what_and_the_client_ip(
    app: FastAPI, accounts: Accounts, db: Database
):
    add_user_route(app)
    admin_id = accounts.by_role[Role.company_admin]
    async with logged_in(app, Role.company_admin, ip=CLIENT_IP) as client:
        headers = csrf_headers(client)
        created = (
            await client.post("/api/auth/tokens", json={"name": "ci"}, headers=headers)
        ).json()
        await client.delete(f"/api/auth/tokens/{created['id']}", headers=headers)
        touched = await client.post(f"/probe/users/{admin_id}/touch", headers=headers)
        assert touched.status_code == 200
        with pytest.raises(RuntimeError):
            await client.post(f"/probe/users/{admin_id}/touch?fail=1", headers=headers)
        await client.post("/api/auth/logout", headers=headers)
    async with db.session() as s:
        entries = (await s.scalars(select(AuditEntry).order_by(AuditEntry.id))).all()
    assert [e.action for e in entries] == [
        "auth.login",
        "auth.token_created",
        "auth.token_revoked",
        "user.touched",  # the failed request's entry rolled back with it
        "auth.logout",
    ]
    for entry in entries:
        assert entry.ip == CLIENT_IP
        assert entry.user_id == admin_id and entry.company_id == accounts.company_a
    token_entry = entries[1]
    assert token_entry.target_type == "api_token" and token_entry.target_id == str(created["id"])
    assert token_entry.detail == {"name": "ci", "prefix": created["prefix"]}
    assert created["token"] not in str(token_entry.detail)
