"""The seed's queue endpoints: the role matrix, the stats shape, health, info, Redis down."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.enums import ADMIN_ROLES, STAFF_ROLES, Role
from ils.queue.states import COUNT_STATES
from tests.web.conftest import Accounts, logged_in, make_client

ENDPOINTS = ("/api/queue/stats", "/api/queue/health", "/api/queue/info")
QUEUES = {"email", "pdf", "notification", "ai", "oma", "scheduled"}
SEED_COUNTS = ["waiting", "active", "completed", "failed", "delayed", "prioritized", "paused"]


async def test_anonymous_callers_get_401_everywhere(app: FastAPI, accounts: Accounts):
    async with make_client(app) as client:
        for path in ENDPOINTS:
            assert (await client.get(path)).status_code == 401, path


@pytest.mark.parametrize("role", sorted(STAFF_ROLES))
async def test_staff_roles_get_403(app: FastAPI, accounts: Accounts, role: Role):
    async with logged_in(app, role) as client:
        for path in ENDPOINTS:
            response = await client.get(path)
            assert response.status_code == 403, (role, path)
            assert "roles" in response.json()["detail"]


@pytest.mark.parametrize("role", sorted(ADMIN_ROLES))
async def test_admin_roles_read_stats_health_and_info(app: FastAPI, accounts: Accounts, role: Role):
    system: JobSystem = app.state.system
    await system.producer.enqueue("pdf", "invoice", {"invoiceId": 3}, company_id=accounts.company_a)
    await system.producer.enqueue("pdf", "invoice", {"invoiceId": 4}, company_id=accounts.company_b)
    own = 2 if role is Role.platform_admin else 1  # a company's admin counts its own jobs only
    async with logged_in(app, role) as client:
        stats = await client.get("/api/queue/stats")
        assert stats.status_code == 200
        body = stats.json()
        assert body["redis"] is True
        assert set(body) == QUEUES | {"redis"}
        for queue in QUEUES:
            assert list(body[queue]) == SEED_COUNTS
            assert set(body[queue]) == set(COUNT_STATES)
        assert body["pdf"]["prioritized"] == own and body["email"]["waiting"] == 0

        health = (await client.get("/api/queue/health")).json()
        assert health["redis"] is True and health["workers"] == dict.fromkeys(QUEUES, 0)
        assert health["worker_processes"] == []

        info = (await client.get("/api/queue/info")).json()
        assert info["prefix"] == system.settings.prefix
        assert info["queues"]["pdf"]["counts"]["prioritized"] == own
        assert info["queues"]["pdf"]["settings"]["concurrency"] == 3


async def test_a_bearer_token_of_an_admin_reads_stats(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.admin) as browser:
        token = (
            await browser.post(
                "/api/auth/tokens",
                json={"name": "grafana"},
                headers={"X-CSRF-Token": browser.cookies["ils_csrf"]},
            )
        ).json()["token"]
    async with make_client(app) as api:
        response = await api.get("/api/queue/stats", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200


async def test_with_redis_down_stats_is_a_503_saying_so(
    app_without_redis: FastAPI, accounts: Accounts
):
    async with logged_in(app_without_redis, Role.platform_admin) as client:
        stats = await client.get("/api/queue/stats")
        assert stats.status_code == 503
        assert stats.json()["redis"] is False and stats.json()["error"]
        health = await client.get("/api/queue/health")
        assert health.status_code == 200 and health.json()["redis"] is False
        info = await client.get("/api/queue/info")
        assert info.status_code == 200
        assert info.json()["queues"]["email"]["counts"] is None


async def test_every_route_is_in_the_openapi_schema_with_a_response_model(app: FastAPI):
    schema = app.openapi()
    for path in (*ENDPOINTS, "/api/auth/login", "/api/auth/me", "/api/auth/tokens", "/healthz"):
        ok = schema["paths"][path]["get" if path != "/api/auth/login" else "post"]["responses"]
        content = next(iter(v for k, v in ok.items() if k.startswith("2")))["content"]
        assert "$ref" in str(content["application/json"]["schema"]), path
