"""Quotas on the routes that enqueue work: N requests pass, the next is a 429 naming the quota
with Retry-After, and once the window has moved on a request passes again — per user and per
company, counted in Redis; every enqueuing route carries its quota."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis
from fastapi import FastAPI
from fastapi.routing import APIRoute

from ils.domain.enums import Role
from ils.errors import ConfigurationError
from ils.queue.settings import Settings
from ils.settings import load_web_settings
from ils.web.settings import WebSettings
from tests.web.conftest import Accounts, serve
from tests.web.helpers import outsider, signed_in

WINDOW_S = 60  # long: no test waits for a window to pass (see window_moves_on)
QUOTA_ENV = {
    "ILS_QUOTA_AI_USER": "2",
    "ILS_QUOTA_AI_COMPANY": "3",
    "ILS_QUOTA_AI_WINDOW_S": str(WINDOW_S),
}


@pytest.fixture
def web_settings(tmp_path: Path) -> WebSettings:
    return load_web_settings(QUOTA_ENV, tmp_path / "var")


async def _ask(client: httpx.AsyncClient, conversation: int) -> httpx.Response:
    url = f"/api/ai/conversations/{conversation}/messages"
    return await client.post(url, json={"content": "any anomalies?"})


async def _conversation(client: httpx.AsyncClient) -> int:
    created = await client.post("/api/ai/conversations", json={})
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


async def window_moves_on(settings: Settings) -> None:
    """Let the quota windows run out without waiting for them: each window's key expires within
    the quota's window (checked), and is then removed, as its expiry would remove it."""
    store = aredis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        found = [k async for k in store.scan_iter(match=f"{settings.prefix}:ils:quota*")]
        assert found, "no quota window in Redis"
        for key in found:
            assert 0 < await store.pttl(key) <= WINDOW_S * 1000, key
        await store.delete(*found)
    finally:
        await store.aclose()


def assert_quota_refusal(response: httpx.Response, scope: str, limit: int) -> None:
    assert response.status_code == 429, response.text
    assert 1 <= int(response.headers["retry-after"]) <= WINDOW_S
    body = response.json()
    assert body["quota"] == {"kind": "ai", "scope": scope, "limit": limit, "window_s": WINDOW_S}
    assert f"ai quota of this {scope} used up" in body["detail"]


async def test_per_user_quota_then_success_after_the_window(
    api: FastAPI, accounts: Accounts, settings: Settings
):
    async with signed_in(api, Role.dispenser) as client:
        conversation = await _conversation(client)
        for _ in range(2):
            assert (await _ask(client, conversation)).status_code == 202
        refused = await _ask(client, conversation)
        assert_quota_refusal(refused, "user", 2)
        stored = (await client.get(f"/api/ai/conversations/{conversation}")).json()
        assert len(stored["messages"]) == 2  # the refused message was not written

        await window_moves_on(settings)
        assert (await _ask(client, conversation)).status_code == 202


async def test_per_company_quota_spans_its_users_not_other_companies(
    api: FastAPI, accounts: Accounts, settings: Settings
):
    async with signed_in(api, Role.dispenser) as first, signed_in(api, Role.staff) as second:
        mine, theirs = await _conversation(first), await _conversation(second)
        assert (await _ask(first, mine)).status_code == 202
        assert (await _ask(first, mine)).status_code == 202
        assert (await _ask(second, theirs)).status_code == 202  # the company's third
        assert_quota_refusal(await _ask(second, theirs), "company", 3)
        async with outsider(api) as other_company:
            elsewhere = await _conversation(other_company)
            assert (await _ask(other_company, elsewhere)).status_code == 202

        await window_moves_on(settings)
        assert (await _ask(second, theirs)).status_code == 202


async def test_web_processes_share_the_count_in_redis(
    api: FastAPI, accounts: Accounts, settings: Settings, web_settings: WebSettings
):
    """A second app (another process's limiter object) over the same Redis sees the count."""
    async with signed_in(api, Role.dispenser) as client:
        conversation = await _conversation(client)
        assert (await _ask(client, conversation)).status_code == 202
    async for other in serve(api.state.system, web_settings):
        assert other.state.web.quotas is not api.state.web.quotas
        async with signed_in(other, Role.dispenser) as client:
            assert (await _ask(client, conversation)).status_code == 202
            assert_quota_refusal(await _ask(client, conversation), "user", 2)
    store = aredis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        keys = [k async for k in store.scan_iter(match=f"{settings.prefix}:ils:quota*")]
        user = accounts.by_role[Role.dispenser]
        assert any(f"/ai/user/{user}/" in k for k in keys), keys
        assert any(f"/ai/company/{accounts.company_a}/" in k for k in keys), keys
    finally:
        await store.aclose()


async def test_with_redis_down_requests_pass_uncounted_with_one_warning(
    app_without_redis: FastAPI, accounts: Accounts, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING, logger="ils.web.quotas"):
        async with signed_in(app_without_redis, Role.dispenser) as client:
            conversation = await _conversation(client)
            for _ in range(3):  # past the user's 2: nothing counts them
                assert (await _ask(client, conversation)).status_code == 202
    warnings = [r for r in caplog.records if "requests pass uncounted" in r.message]
    assert len(warnings) == 1


# Every route that enqueues work, and the quota it counts against. A new enqueuing route must
# be added here (and to its quota); a route losing its quota fails this test.
ENQUEUING_ROUTES = {
    ("POST", "/api/orders"): "order",
    ("POST", "/api/orders/{order_id}/status"): "order",
    ("POST", "/api/orders/{order_id}/ship"): "order",
    ("POST", "/api/marketplace/connections"): "email",
    ("POST", "/api/marketplace/connections/{connection_id}/accept"): "email",
    ("POST", "/api/marketplace/connections/{connection_id}/reject"): "email",
    ("POST", "/api/purchase-orders/{purchase_order_id}/send"): "email",
    ("POST", "/api/examinations/{examination_id}/pdf"): "pdf",
    ("POST", "/api/invoices/{invoice_id}/issue"): "pdf",
    ("POST", "/api/invoices/{invoice_id}/payments"): "pdf",
    ("POST", "/api/ai/conversations/{conversation_id}/messages"): "ai",
    ("POST", "/api/queue/{queue}/jobs/{job_id}/{action}"): "bulk",
    ("POST", "/api/queue/{queue}/retry-failed"): "bulk",
    ("POST", "/api/queue/outbox/relay"): "bulk",
    ("POST", "/api/invoices/resend"): "email",
    ("POST", "/api/invoices/{invoice_id}/email"): "email",
    ("POST", "/api/queue/dead-letters/replay"): "bulk",
    ("POST", "/api/queue/dead-letters/{dead_letter_id}/replay"): "bulk",
    ("POST", "/api/schedules/{schedule_id}/run-now"): "bulk",
    ("POST", "/api/orders/{order_id}/oma"): "order",
    ("POST", "/api/webhooks/endpoints/{endpoint_id}/test"): "bulk",
    ("POST", "/api/webhooks/deliveries/{delivery_id}/retry"): "bulk",
    ("POST", "/api/events/replay"): "bulk",
}


def _quotas_of(dependant: Any) -> set[str]:
    found = set()
    for dep in dependant.dependencies:
        name = getattr(dep.call, "__name__", "")
        if name.startswith("quota_"):
            found.add(name.removeprefix("quota_"))
        found |= _quotas_of(dep)
    return found


def _api_routes(routes: list[Any]) -> list[APIRoute]:
    found: list[APIRoute] = []
    for route in routes:
        if isinstance(route, APIRoute):
            found.append(route)
        elif (included := getattr(route, "original_router", None)) is not None:
            found += _api_routes(included.routes)  # FastAPI keeps included routers whole
    return found


def test_every_enqueuing_route_counts_against_its_quota(app: FastAPI):
    declared: dict[tuple[str, str], str] = {}
    routes = _api_routes(app.routes)
    assert len(routes) > 40
    for route in routes:
        for kind in _quotas_of(route.dependant):
            for method in route.methods:
                declared[(method, route.path)] = kind
    assert declared == ENQUEUING_ROUTES


def test_quota_settings_are_validated_at_start_up(tmp_path: Path):
    var = tmp_path / "var"
    settings = load_web_settings({"ILS_QUOTA_PDF_USER": "none", "ILS_QUOTA_PDF_COMPANY": "7"}, var)
    assert (settings.quotas["pdf"].user, settings.quotas["pdf"].company) == (None, 7)
    with pytest.raises(ConfigurationError, match="did you mean ILS_QUOTA_PDF_USER"):
        load_web_settings({"ILS_QUOTA_PFD_USER": "3"}, var)
    with pytest.raises(ConfigurationError, match="ILS_QUOTA_AI_USERS"):
        load_web_settings({"ILS_QUOTA_AI_USERS": "3"}, var)
    with pytest.raises(ConfigurationError, match="ILS_QUOTA_AI_USER"):
        load_web_settings({"ILS_QUOTA_AI_USER": "0"}, var)
    with pytest.raises(ConfigurationError, match="ILS_QUOTA_BULK_WINDOW_S"):
        load_web_settings({"ILS_QUOTA_BULK_WINDOW_S": "soon"}, var)
    with pytest.raises(ConfigurationError, match="ILS_QUOTAS_AI_USER in the environment; did"):
        load_web_settings({"ILS_QUOTAS_AI_USER": "3"}, var)
