"""Helpers shared by the web tests: signed-in clients, the fields a 422 names, the outbox."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.models.accounts import Role
from ils.queue.outbox_table import outbox
from tests.web.conftest import OUTSIDER_EMAIL, csrf_headers, logged_in, login, make_client


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
        return int((await session.execute(select(func.count()).select_from(outbox))).scalar_one())
