"""Admission control of the web process: past ``ILS_WEB_MAX_INFLIGHT`` running requests a new
one waits at most ``ILS_WEB_QUEUE_TIMEOUT_MS`` for a slot, then answers 503 with Retry-After;
the probes and streams are never held back; ``/metrics`` counts what was refused."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import ConfigurationError
from ils.queue.settings import Settings
from ils.settings import load_web_settings
from ils.web.app import create_app
from ils.web.settings import WebSettings
from tests.conftest import probe_registry
from tests.support.lag import wait_paused
from tests.web.conftest import make_client
from tests.web.test_metrics import samples

ONE_SLOT = {"ILS_WEB_MAX_INFLIGHT": "1", "ILS_WEB_QUEUE_TIMEOUT_MS": "50"}


def add_slow_route(app: FastAPI) -> tuple[asyncio.Event, asyncio.Event]:
    """A route that holds its slot until ``release`` is set; ``entered`` tells it runs."""
    entered, release = asyncio.Event(), asyncio.Event()

    @app.get("/probe/slow")
    async def slow() -> dict[str, bool]:
        entered.set()
        await release.wait()
        return {"done": True}

    return entered, release


@dataclass
class Held:
    """An app with the slow route, its client, and the route's two events."""

    app: FastAPI
    client: httpx.AsyncClient
    entered: asyncio.Event
    release: asyncio.Event

    async def hold_the_slot(self) -> asyncio.Task[httpx.Response]:
        """A request to the slow route, once it is running (holding a slot)."""
        holder = asyncio.create_task(self.client.get("/probe/slow"))
        await asyncio.wait_for(self.entered.wait(), 10)
        return holder


@contextlib.asynccontextmanager
async def slow_app(settings: Settings, db: Database, web: WebSettings) -> AsyncIterator[Held]:
    """The app without workers, started, with the slow route and a client on it."""
    system = JobSystem(settings, database=db)
    app = create_app(system, run_workers=False, web_settings=web)
    entered, release = add_slow_route(app)
    try:
        async with app.router.lifespan_context(app), make_client(app) as client:
            yield Held(app, client, entered, release)
    finally:
        await system.close()


@pytest.fixture
def one_slot(tmp_path: Path) -> WebSettings:
    return load_web_settings(ONE_SLOT, tmp_path / "var")


async def test_past_capacity_a_request_is_refused_at_once_and_the_probes_still_answer(
    settings: Settings, db: Database, one_slot: WebSettings
):
    async with slow_app(settings, db, one_slot) as held:
        client = held.client
        holder = await held.hold_the_slot()

        refused = await client.get("/probe/slow")
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert refused.json()["reason"] == "overloaded"
        # The probes and /metrics answer while every slot is taken.
        assert (await client.get("/healthz")).status_code == 200
        busy = samples((await client.get("/metrics")).text)
        assert busy[("ils_web_requests_inflight", ())] == 1
        assert busy[("ils_web_requests_shed_total", ())] == 1

        held.release.set()
        assert (await holder).json() == {"done": True}
        assert (await client.get("/probe/slow")).status_code == 200  # the slot came back
        calm = samples((await client.get("/metrics")).text)
        assert calm[("ils_web_requests_inflight", ())] == 0
        assert calm[("ils_web_requests_shed_total", ())] == 1


async def test_a_request_that_finds_a_slot_within_the_timeout_waits_for_it(
    settings: Settings, db: Database, tmp_path: Path
):
    patient = load_web_settings(
        {"ILS_WEB_MAX_INFLIGHT": "1", "ILS_WEB_QUEUE_TIMEOUT_MS": "20000"}, tmp_path / "var"
    )
    async with slow_app(settings, db, patient) as held:
        holder = await held.hold_the_slot()
        waiting = asyncio.create_task(held.client.get("/probe/slow"))
        done, _ = await asyncio.wait({waiting}, timeout=0.2)
        assert not done  # queued for the slot, not refused
        held.release.set()
        assert (await holder).status_code == 200
        assert (await waiting).status_code == 200
        assert held.app.state.admission.shed == 0


def test_the_limit_is_validated_and_can_be_lifted(tmp_path: Path):
    assert load_web_settings({}, tmp_path).max_inflight == 8
    assert load_web_settings({"ILS_WEB_MAX_INFLIGHT": "none"}, tmp_path).max_inflight is None
    with pytest.raises(ConfigurationError, match="ILS_WEB_MAX_INFLIGHT"):
        load_web_settings({"ILS_WEB_MAX_INFLIGHT": "0"}, tmp_path)
    with pytest.raises(ConfigurationError, match="did you mean ILS_WEB_MAX_INFLIGHT"):
        load_web_settings({"ILS_WEB_MAX_INFLIGHTS": "4"}, tmp_path)


async def test_requests_waiting_for_a_slot_pause_the_in_process_workers(
    settings: Settings, db: Database, one_slot: WebSettings
):
    """Past capacity the web comes first: the workers it runs stop taking jobs (the backlog
    grows in the queues) until requests stop waiting."""
    system = JobSystem(settings, registry=probe_registry(), database=db)
    app = create_app(system, run_workers=True, queues=("oma",), web_settings=one_slot)
    entered, release = add_slow_route(app)
    async with app.router.lifespan_context(app), make_client(app) as client:
        runtime = app.state.runtime
        await runtime.wait_started(20)
        await wait_paused(runtime.backoff, False)  # start-up itself may have lagged
        holder = asyncio.create_task(client.get("/probe/slow"))
        await asyncio.wait_for(entered.wait(), 10)
        assert (await client.get("/probe/slow")).status_code == 503
        await wait_paused(runtime.backoff, True)
        release.set()
        assert (await holder).status_code == 200
        await wait_paused(runtime.backoff, False)
    await system.close()
