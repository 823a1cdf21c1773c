"""Failed logins are limited per email and IP: in Redis, or in-process while Redis is down."""

from __future__ import annotations

import logging

import httpx
import pytest
import redis.asyncio as aredis
from fastapi import FastAPI

from ils.domain.enums import Role
from ils.queue.settings import Settings
from tests.web.conftest import Accounts, login, make_client

EMAIL = Accounts.email(Role.admin)


async def fail_until_blocked(client: httpx.AsyncClient, email: str, limit: int) -> None:
    for _ in range(limit):
        assert (await login(client, email, "wrong")).status_code == 401


async def test_the_sixth_attempt_after_five_failures_is_a_429_with_retry_after(
    app: FastAPI, accounts: Accounts
):
    async with make_client(app) as client:
        await fail_until_blocked(client, EMAIL, 5)
        blocked = await login(client, EMAIL)  # even the right password
        assert blocked.status_code == 429
        assert 0 < int(blocked.headers["retry-after"]) <= 15 * 60
        assert "too many failed logins" in blocked.json()["detail"]
    async with make_client(app, ip="198.51.100.20") as elsewhere:
        assert (await login(elsewhere, EMAIL)).status_code == 200  # another IP is not blocked
    async with make_client(app) as same_ip:
        other_user = Accounts.email(Role.staff)
        assert (await login(same_ip, other_user)).status_code == 200  # another email neither


async def test_counters_live_in_redis_under_the_prefix_and_expire(
    app: FastAPI, accounts: Accounts, settings: Settings
):
    async with make_client(app) as client:
        await fail_until_blocked(client, EMAIL, 2)
    store = aredis.from_url(settings.redis_url or "", decode_responses=True)
    try:
        keys = [k async for k in store.scan_iter(match=f"{settings.prefix}:ils:login:*")]
        assert len(keys) == 1
        assert EMAIL not in keys[0]  # addresses are hashed out of key names
        assert await store.get(keys[0]) == "2"
        assert 0 < await store.ttl(keys[0]) <= 15 * 60
    finally:
        await store.aclose()


async def test_a_successful_login_resets_the_count(app: FastAPI, accounts: Accounts):
    async with make_client(app) as client:
        await fail_until_blocked(client, EMAIL, 4)
        assert (await login(client, EMAIL)).status_code == 200
        await fail_until_blocked(client, EMAIL, 4)
        assert (await login(client, EMAIL)).status_code == 200


async def test_with_redis_down_the_limiter_counts_in_process_and_never_fails(
    app_without_redis: FastAPI, accounts: Accounts, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.WARNING, logger="ils.web.auth.ratelimit"):
        async with make_client(app_without_redis) as client:
            assert (await login(client, EMAIL)).status_code == 200
            await fail_until_blocked(client, EMAIL, 5)
            assert (await login(client, EMAIL)).status_code == 429
    warnings = [r for r in caplog.records if "counting failures in this process" in r.message]
    assert len(warnings) == 1  # once per outage, not once per request
