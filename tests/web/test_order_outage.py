"""Redis stopped during 60 order creations: every request still succeeds, and once Redis is
back all 60 x 4 jobs are delivered, each exactly once (the transactional outbox at work)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import Role
from ils.errors import JobNotFound
from ils.queue.embedded import EmbeddedServer
from ils.queue.outbox_table import outbox
from ils.queue.settings import QUEUE_NAMES
from ils.web.settings import WebSettings
from tests.conftest import make_settings, probe_registry
from tests.web.conftest import Accounts, csrf_headers, logged_in, serve
from tests.web.test_orders import ORDER

# 240 jobs: more than two of the relay's batches of 100 (a full batch and a part one behind it).
# 200 orders proved nothing more and cost half a minute per database, mostly waiting on Redis.
ORDERS = 60


@pytest.fixture
async def app_on_own_redis(
    own_server: EmbeddedServer, db: Database, tmp_path: Path, web_settings: WebSettings
) -> AsyncIterator[FastAPI]:
    url = own_server.ensure()
    system = JobSystem(make_settings(url, "outage", tmp_path), probe_registry(), database=db)
    async for served in serve(system, web_settings):
        yield served


async def dispatch_rows(system: JobSystem) -> int:
    """The event dispatch passes waiting in the outbox."""
    async with system.database.session() as session:
        return len((await session.scalars(
            select(outbox.c.id).where(
                outbox.c.name == "dispatch-events", outbox.c.relayed_at.is_(None)
            )
        )).all())  # fmt: skip


async def dispatch_jobs(system: JobSystem) -> int:
    """The event dispatch jobs the outbox relayed that are in Redis."""
    async with system.database.session() as session:
        ids = (await session.scalars(
            select(outbox.c.id).where(outbox.c.name == "dispatch-events")
        )).all()  # fmt: skip
    found = 0
    for job_id in ids:
        with contextlib.suppress(JobNotFound):
            await system.admin.get_job("notification", job_id)
            found += 1
    return found


async def test_orders_succeed_while_redis_is_down_and_their_jobs_arrive_once(
    app_on_own_redis: FastAPI, own_server: EmbeddedServer, accounts: Accounts
):
    app = app_on_own_redis
    system: JobSystem = app.state.system
    relay = system.producer.relay
    assert relay is not None
    async with logged_in(app, Role.dispenser) as client:
        own_server.stop()
        job_ids = set()
        for i in range(ORDERS):
            body = ORDER | {"customer_name": f"Customer {i}"}
            response = await client.post("/api/orders", json=body, headers=csrf_headers(client))
            assert response.status_code == 201, response.text
            job_ids |= {job["job_id"] for job in response.json()["jobs"]}
    assert len(job_ids) == ORDERS * 4
    await relay.wait_idle()  # the relays tried right after each commit, and failed
    # each order's four jobs, and the dispatch passes of their events: one per second of
    # recording, shared by that second's transactions (and the login's, when Redis stopped before
    # the relay took it)
    passes = await dispatch_rows(system)
    assert 1 <= passes <= ORDERS + 1
    assert await relay.outbox.count(pending=True) == ORDERS * 4 + passes

    own_server.ensure()
    # This relay and the app's own periodic sweep share the rows (each claims its own);
    # who delivers does not matter, that every job arrives once does.
    for _ in range(1_000):
        if await relay.outbox.count(pending=True) == 0:
            break
        await relay.relay_pending()
    assert await relay.outbox.count(pending=True) == 0
    assert await relay.relay_pending() == 0  # nothing is delivered twice
    stats = await system.admin.stats(QUEUE_NAMES)
    # (a dispatch pass waits out the events' settle time: delayed)
    queued = {q: c["waiting"] + c["prioritized"] + c["delayed"] for q, c in stats.items()}
    dispatches = await dispatch_jobs(system)
    assert passes <= dispatches <= passes + 1  # the login's may have reached Redis before
    assert queued == {
        "email": ORDERS, "pdf": 2 * ORDERS, "notification": ORDERS + dispatches, "ai": 0,
        "oma": 0, "scheduled": 0,
    }  # fmt: skip
    for job_id in list(job_ids)[:20]:
        assert any(
            [await system.admin.queue(q).getJob(job_id) for q in ("email", "pdf", "notification")]
        )
