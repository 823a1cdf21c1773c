"""The queue admin API over queues sharded on two Redis servers (issue 21), on both databases:
counts and lists span both servers, each company sees only its own jobs, a queue-wide action
reaches the queue's own server, and health lists each server (a company without its address
or make-up); ``/metrics`` says per server whether it answers."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aredis
from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import Role
from ils.web.settings import WebSettings
from tests.conftest import probe_registry
from tests.support.shards import SHARDED, Servers, sharded_settings, two_servers
from tests.web.conftest import Accounts, csrf_headers, logged_in, serve


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    with two_servers(tmp_path) as both:
        yield both


@pytest.fixture
async def sharded(
    servers: Servers, tmp_path: Path, db: Database, web_settings: WebSettings
) -> AsyncIterator[tuple[FastAPI, JobSystem]]:
    system = JobSystem(sharded_settings(servers, tmp_path), probe_registry(), database=db)
    async for served in serve(system, web_settings):
        yield served, system


async def test_the_admin_api_spans_both_servers_each_company_its_own(
    sharded: tuple[FastAPI, JobSystem], accounts: Accounts, servers: Servers
):
    sharded_app, system = sharded
    producer = system.producer
    for queue in ("oma", "email"):
        await producer.enqueue(queue, "test-probe", {"tag": "a"}, company_id=accounts.company_a)
    await producer.enqueue("oma", "test-probe", {"tag": "b"}, company_id=accounts.company_b)

    async with logged_in(sharded_app, Role.platform_admin) as platform:
        stats = (await platform.get("/api/queue/stats")).json()
        assert (stats["oma"]["waiting"], stats["email"]["waiting"]) == (2, 1)
        health = (await platform.get("/api/queue/health")).json()
        assert {tuple(s["queues"]) for s in health["servers"]} >= {SHARDED}
        assert all(s["redis"] and s["server"] for s in health["servers"])
        assert all(servers[1].password() not in str(s) for s in health["servers"])
        paused = await platform.post("/api/queue/oma/pause", headers=csrf_headers(platform))
        assert paused.status_code == 200, paused.text
        metrics = (await platform.get("/metrics")).text
        assert metrics.count("ils_redis_server_up{") == 2

    prefix = system.settings.prefix
    shard = aredis.from_url(servers[1].ensure(), decode_responses=True)
    try:
        assert await shard.hget(f"{prefix}:oma:meta", "paused") == "1"
    finally:
        await shard.aclose()

    async with logged_in(sharded_app, Role.admin) as company:
        stats = (await company.get("/api/queue/stats")).json()
        assert (stats["oma"]["paused"], stats["email"]["waiting"]) == (1, 1)
        page = (await company.get("/api/queue/oma/jobs", params={"state": "waiting"})).json()
        assert [j["company_id"] for j in page["jobs"]] == [accounts.company_a], page
        health = (await company.get("/api/queue/health")).json()
        for server in health["servers"]:
            assert server["server"] is None and server["version"] is None and server["redis"]
        info = (await company.get("/api/queue/info")).json()
        assert all(q["settings"]["redis_url"] is None for q in info["queues"].values())
