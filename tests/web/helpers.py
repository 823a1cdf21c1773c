"""Helpers shared by the web tests: signed-in clients, the fields a 422 names, the outbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
from ils.domain.models.accounts import User
from ils.domain.passwords import hash_password
from ils.queue.outbox_table import outbox
from tests.web.conftest import (
    OUTSIDER_EMAIL,
    PASSWORD,
    csrf_headers,
    logged_in,
    login,
    make_client,
)

OUTSIDER_ADMIN_EMAIL = "admin@b.localhost"


@contextlib.asynccontextmanager
async def signed_in(app: FastAPI, role: Role = Role.dispenser) -> AsyncIterator[httpx.AsyncClient]:
    """Company A's user of ``role``, with the CSRF header on every request."""
    async with logged_in(app, role) as client:
        client.headers.update(csrf_headers(client))
        yield client


@contextlib.asynccontextmanager
async def outsider(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as company B's user."""
    async with make_client(app) as client:
        assert (await login(client, OUTSIDER_EMAIL)).status_code == 200
        client.headers.update(csrf_headers(client))
        yield client


@contextlib.asynccontextmanager
async def outsider_admin(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client signed in as a company_admin of company B (made on first use): a role that may
    do everything in its company, so what it meets on company A's ids is the company rule (404),
    never the role rule (403)."""
    system: JobSystem = app.state.system
    async with system.database.session() as session:
        known = await session.scalar(select(User).where(User.email == OUTSIDER_ADMIN_EMAIL))
        if known is None:
            company_id = await session.scalar(
                select(User.company_id).where(User.email == OUTSIDER_EMAIL)
            )
            assert company_id is not None, "the accounts fixture makes company B first"
            session.add(
                User(company_id=company_id, email=OUTSIDER_ADMIN_EMAIL, name="admin b",
                     password_hash=hash_password(PASSWORD), role=Role.company_admin)
            )  # fmt: skip
    async with make_client(app) as client:
        assert (await login(client, OUTSIDER_ADMIN_EMAIL)).status_code == 200
        client.headers.update(csrf_headers(client))
        yield client


def fields(response: httpx.Response) -> set[str]:
    """The fields a 422 names, as dotted paths without their ``body``/``query``/``path`` root."""
    assert response.status_code == 422, response.text
    return {".".join(str(p) for p in error["loc"][1:]) for error in response.json()["detail"]}


async def relayed(system: JobSystem) -> None:
    """Relay every committed outbox row to BullMQ now (no sleeping)."""
    assert system.producer.relay is not None
    await system.producer.relay.wait_idle()
    await system.producer.relay.relay_pending()


async def outbox_rows(system: JobSystem) -> int:
    async with system.database.session() as session:
        # the jobs of the domain, not the event dispatch their events queue
        count = select(func.count()).select_from(outbox).where(outbox.c.name != "dispatch-events")
        return int((await session.execute(count)).scalar_one())
