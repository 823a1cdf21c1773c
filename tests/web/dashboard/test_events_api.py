"""``GET /api/queue/events`` over a real connection (httpx streaming against ``ils serve``): the
snapshot events, the role matrix, bad input, and that the stream ends when the server stops."""

from __future__ import annotations

import contextlib
import json
import signal
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
from tests.web.dashboard.conftest import (
    IN_SESSION_LOOP,
    OTHER_COMPANY,
    OWN_COMPANY,
    PASSWORD,
    Site,
    email,
)

pytestmark = IN_SESSION_LOOP
READ_TIMEOUT_S = 20


@contextlib.asynccontextmanager
async def client_as(site: Site, role: Role | None) -> AsyncIterator[httpx.AsyncClient]:
    """A client of ``site`` logged in as the user of ``role`` (None: anonymous)."""
    async with httpx.AsyncClient(base_url=site.url, timeout=READ_TIMEOUT_S) as client:
        if role is not None:
            body = {"email": email(role), "password": PASSWORD}
            response = await client.post("/api/auth/login", json=body)
            assert response.status_code == 200, response.text
        yield client


async def events(response: httpx.Response) -> AsyncIterator[tuple[str, Any]]:
    """The (event, data) pairs of a text/event-stream response."""
    name, data = "message", []
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            name = line[6:].strip()
        elif line.startswith("data:"):
            data.append(line[5:].strip())
        elif not line and data:
            yield name, json.loads("\n".join(data))
            name, data = "message", []


async def first_snapshot(client: httpx.AsyncClient) -> dict[str, Any]:
    async with client.stream("GET", "/api/queue/events?interval=0.5") as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for name, data in events(response):
            assert name == "snapshot"
            return dict(data)
    raise AssertionError("the stream ended before its first snapshot")


async def test_the_stream_sends_snapshots_that_follow_the_queues(site: Site, system: JobSystem):
    await system.admin.actions.pause("oma")
    await system.producer.enqueue("oma", "test-probe", {"tag": "seen"}, company_id=OWN_COMPANY)
    for company in (OTHER_COMPANY, OTHER_COMPANY, None):  # another company's, and system work
        await system.producer.enqueue("oma", "test-probe", {"tag": "no"}, company_id=company)
    async with client_as(site, Role.admin) as client:
        snap = await first_snapshot(client)
    async with client_as(site, Role.company_admin) as client:
        masked = await first_snapshot(client)
    async with client_as(site, Role.platform_admin) as client:
        everything = await first_snapshot(client)
    assert masked["queues"]["oma"]["counts"]["waiting"] == 1
    assert all(w["processed"] is None for w in masked["health"]["worker_processes"])
    assert snap["redis"] is True and snap["error"] is None
    oma = snap["queues"]["oma"]
    assert oma["paused"] is True and oma["counts"]["waiting"] == 1  # its own company's only
    assert everything["queues"]["oma"]["counts"]["waiting"] == 4
    assert oma["configured"]["concurrency"] >= 1 and oma["overrides"]["concurrency"] is None
    assert set(snap["queues"]) == {"email", "pdf", "notification", "ai", "oma", "scheduled"}


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.admin, 200),
        (Role.company_admin, 200),
        (Role.staff, 403),
        (None, 401),
    ],
)
async def test_the_role_matrix_of_the_stream(site: Site, role: Role | None, status: int):
    async with client_as(site, role) as client:
        if status == 200:
            assert (await first_snapshot(client))["redis"] is True
        else:
            response = await client.get("/api/queue/events")
            assert response.status_code == status


async def test_a_bad_interval_is_a_422_naming_it(site: Site):
    async with client_as(site, Role.admin) as client:
        response = await client.get("/api/queue/events?interval=0")
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"] == ["query", "interval"]


async def test_with_redis_down_the_snapshot_says_so_instead_of_zeros(dead_redis_site: Site):
    async with client_as(dead_redis_site, Role.admin) as client:
        snap = await first_snapshot(client)
    assert snap["redis"] is False and snap["error"]
    assert all(q["counts"] is None and q["paused"] is None for q in snap["queues"].values())


async def test_an_open_stream_ends_when_the_server_is_stopped(site: Site):
    async with (
        client_as(site, Role.admin) as client,
        client.stream("GET", "/api/queue/events") as response,
    ):
        stream = events(response)
        name, _ = await anext(stream)
        assert name == "snapshot"
        site.process.signal(signal.SIGTERM)
        async for _ in stream:  # ends when the server closes the stream
            pass
    # A stream left open would hold the graceful shutdown up for good.
    assert await site.process.wait(timeout_s=30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in site.process.output
