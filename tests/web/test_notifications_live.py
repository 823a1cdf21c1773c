"""Live notifications across processes: an ``ils worker`` and an ``ils serve --no-workers`` started
separately on one Redis and one database, real WebSocket clients connected to the web process,
and notifications enqueued here through the helpers.

No sleeping: each step waits for a message (or a log line) with a timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis.asyncio as aredis
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from ils.bootstrap import JobSystem
from ils.domain.db import Database, database_url
from ils.domain.enums import NotificationType, Priority
from ils.domain.migrate import upgrade_database
from ils.domain.models import ApiToken, Company, CompanyKind, Role, User
from ils.domain.services import notifications as store
from ils.domain.services.notifications import NewNotification
from ils.jobs import helpers
from ils.jobs.notification import channel
from ils.queue.embedded import free_port
from ils.web.auth.tokens import create_token
from tests.conftest import make_settings
from tests.support.processes import IlsProcess
from tests.web.conftest import PASSWORD

WAIT_S = 15


@dataclass
class LiveWorld:
    base: str
    system: JobSystem
    users: dict[str, int]
    company_a: int

    @property
    def ws_url(self) -> str:
        return self.base.replace("http://", "ws://") + "/ws"

    async def cookie_for(self, name: str) -> str:
        """A fresh session cookie header for user ``name`` (logging in over HTTP)."""
        async with httpx.AsyncClient(base_url=self.base) as client:
            answer = await client.post(
                "/api/auth/login", json={"email": f"{name}@a.localhost", "password": PASSWORD}
            )
            assert answer.status_code == 200, answer.text
            return "; ".join(f"{k}={v}" for k, v in client.cookies.items())


class Tab:
    """One open socket: the messages it received, read one at a time with a timeout."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws

    async def next(self) -> dict[str, Any]:
        return dict(json.loads(await asyncio.wait_for(self.ws.recv(), WAIT_S)))

    async def ready(self) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        """The replayed notifications, then the ``ready`` message."""
        replayed = []
        while (message := await self.next())["type"] != "ready":
            replayed.append(message)
        return replayed, message

    async def notification(self) -> dict[str, Any]:
        while (message := await self.next())["type"] != "notification":
            pass
        return message


@contextlib.asynccontextmanager
async def tab(
    world: LiveWorld, headers: dict[str, str], last_id: int | None = None
) -> AsyncIterator[Tab]:
    url = world.ws_url + (f"?last_id={last_id}" if last_id is not None else "")
    async with connect(url, additional_headers=headers, open_timeout=WAIT_S) as ws:
        yield Tab(ws)


async def refused(world: LiveWorld, headers: dict[str, str], query: str = "") -> int:
    """The HTTP status a refused handshake got."""
    with pytest.raises(InvalidStatus) as refusal:
        async with connect(world.ws_url + query, additional_headers=headers, open_timeout=WAIT_S):
            pass
    return int(refusal.value.response.status_code)


async def seed(db: Database, password_hash: str) -> tuple[int, dict[str, int]]:
    async with db.session() as s:
        a = Company(name="Clear Sight", slug="clear", kind=CompanyKind.practice)
        b = Company(name="Prism Lab", slug="prism", kind=CompanyKind.lab)
        s.add_all([a, b])
        await s.flush()
        people = {
            "ann": (a, Role.dispenser), "bob": (a, Role.optometrist),
            "boss": (a, Role.company_admin), "eve": (b, Role.staff),
        }  # fmt: skip
        users = {
            name: User(company_id=c.id, email=f"{name}@a.localhost", name=name,
                       password_hash=password_hash, role=role)
            for name, (c, role) in people.items()
        }  # fmt: skip
        s.add_all(users.values())
        await s.flush()
        return a.id, {name: u.id for name, u in users.items()}


@pytest.fixture
async def world(
    redis_url: str, prefix: str, tmp_path: Path, worker_env: dict[str, str], password_hash: str
) -> AsyncIterator[LiveWorld]:
    """A migrated SQLite database with two companies' users, a worker process and a web process
    (without workers) on it, and a job system here to enqueue with."""
    settings = make_settings(redis_url, prefix, tmp_path)
    db = Database(database_url({}, settings.var_dir))
    await upgrade_database(db)
    company_a, users = await seed(db, password_hash)
    port = free_port()
    worker = await IlsProcess(["worker", "--queues", "notification"], worker_env).start()
    # Open sockets re-check their credential every second here (60 s by default).
    web_env = worker_env | {"ILS_SESSION_RECHECK_S": "1"}
    web = await IlsProcess(["serve", "--port", str(port), "--no-workers"], web_env).start()
    system = JobSystem(settings, database=db)
    try:
        await worker.wait_for_line("background job workers active")
        await web.wait_for_line("live notifications: subscribed")
        await web.wait_for_line("Uvicorn running on")  # the socket is bound
        yield LiveWorld(f"http://127.0.0.1:{port}", system, users, company_a)
    finally:
        await system.close()
        for process in (web, worker):
            if process.proc is not None and process.proc.returncode is None:
                process.signal(signal.SIGTERM)
                with contextlib.suppress(Exception):
                    await process.wait(20)
            await process.kill()


async def test_every_tab_of_the_user_gets_it_live_and_no_one_else_does(world: LiveWorld):
    ann, eve = world.users["ann"], world.users["eve"]
    prod = world.system.producer
    async with contextlib.AsyncExitStack() as stack:
        ann_cookie = await world.cookie_for("ann")
        first = await stack.enter_async_context(tab(world, {"Cookie": ann_cookie}))
        async with world.system.database.session() as s:
            user = await s.get(User, ann)
            assert user is not None
            _, token = await create_token(s, user, "script")
        second = await stack.enter_async_context(tab(world, {"Authorization": f"Bearer {token}"}))
        eves = await stack.enter_async_context(
            tab(world, {"Cookie": await world.cookie_for("eve")})
        )
        for t in (first, second, eves):
            assert (await t.ready()) == ([], {"type": "ready", "unread_count": 0,
                                              "last_id": 0, "truncated": False})  # fmt: skip

        await helpers.notify_user.using(producer=prod)(
            user_id=ann, title="Lens ready", message="Order 42 is ready.", priority="high"
        )
        got = [await first.notification(), await second.notification()]
        assert got[0] == got[1]
        assert got[0]["notification"]["title"] == "Lens ready"
        assert got[0]["unread_count"] == 1 and got[0]["replayed"] is False

        # Positive control: Eve's socket works, and the first thing it gets is her own.
        await helpers.notify_user.using(producer=prod)(
            user_id=eve, title="For Eve", message="Only yours."
        )
        theirs = await eves.notification()
        assert theirs["notification"]["title"] == "For Eve" and theirs["unread_count"] == 1


async def test_strangers_and_other_sites_are_refused(world: LiveWorld):
    assert await refused(world, {}) == 403
    assert await refused(world, {"Cookie": "ils_session=forged"}) == 403
    assert await refused(world, {"Authorization": "Bearer ils_not-a-token"}) == 403
    cookie = await world.cookie_for("ann")
    evil = {"Cookie": cookie, "Origin": "https://evil.example"}
    assert await refused(world, evil) == 403
    assert await refused(world, {"Cookie": cookie}, "?last_id=abc") == 403
    assert await refused(world, {"Cookie": cookie}, "?last_id=4294967296") == 403  # past int32
    # The app's own page (same origin) is welcome.
    async with tab(world, {"Cookie": cookie, "Origin": world.base}) as own:
        assert (await own.ready())[1]["type"] == "ready"


async def test_a_logged_out_or_revoked_credential_opens_no_socket(world: LiveWorld):
    cookie = await world.cookie_for("ann")
    csrf = dict(part.split("=", 1) for part in cookie.split("; "))["ils_csrf"]
    async with httpx.AsyncClient(base_url=world.base) as client:
        headers = {"Cookie": cookie, "X-CSRF-Token": csrf}
        assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
    assert await refused(world, {"Cookie": cookie}) == 403  # the copy of the cookie is dead
    async with world.system.database.session() as s:
        user = await s.get(User, world.users["ann"])
        assert user is not None
        row, token = await create_token(s, user, "script")
        row.revoked_at = row.created_at
    assert await refused(world, {"Authorization": f"Bearer {token}"}) == 403


async def test_an_open_socket_closes_when_its_session_or_token_ends(world: LiveWorld):
    cookie = await world.cookie_for("bob")
    csrf = dict(part.split("=", 1) for part in cookie.split("; "))["ils_csrf"]
    async with world.system.database.session() as s:
        user = await s.get(User, world.users["bob"])
        assert user is not None
        row, token = await create_token(s, user, "script")
        token_id = row.id
    async with (
        tab(world, {"Cookie": cookie}) as browser,
        tab(world, {"Authorization": f"Bearer {token}"}) as script,
    ):
        await browser.ready()
        await script.ready()
        async with httpx.AsyncClient(base_url=world.base) as client:
            headers = {"Cookie": cookie, "X-CSRF-Token": csrf}
            assert (await client.post("/api/auth/logout", headers=headers)).status_code == 204
        await asyncio.wait_for(browser.ws.wait_closed(), WAIT_S)
        assert browser.ws.close_code == 1008 and script.ws.close_code is None
        async with world.system.database.session() as s:
            revoked = await s.get(ApiToken, token_id)
            assert revoked is not None
            revoked.revoked_at = revoked.created_at
        await asyncio.wait_for(script.ws.wait_closed(), WAIT_S)
        assert script.ws.close_code == 1008


async def test_a_reconnecting_tab_gets_what_it_missed_then_live_ones(world: LiveWorld):
    ann, bob = world.users["ann"], world.users["bob"]
    prod = world.system.producer
    cookie = {"Cookie": await world.cookie_for("ann")}
    async with tab(world, cookie) as before:
        await before.ready()
        await helpers.notify_user.using(producer=prod)(user_id=ann, title="one", message="1")
        seen = (await before.notification())["notification"]["id"]
    # Offline: two more arrive, and one for a colleague that must not be replayed to Ann.
    async with tab(world, {"Cookie": await world.cookie_for("bob")}) as watcher:
        await watcher.ready()
        await helpers.notify_user.using(producer=prod)(user_id=ann, title="two", message="2")
        await helpers.notify_user.using(producer=prod)(user_id=ann, title="three", message="3")
        await helpers.notify_user.using(producer=prod)(user_id=bob, title="bob's", message="b")
        assert (await watcher.notification())["notification"]["title"] == "bob's"
    async with tab(world, cookie, last_id=seen) as after:
        replayed, ready = await after.ready()
        # both, in the order they were stored (the queue runs jobs side by side: either first)
        assert sorted(m["notification"]["title"] for m in replayed) == ["three", "two"]
        ids = [m["notification"]["id"] for m in replayed]
        assert ids == sorted(ids)
        assert all(m["replayed"] and m["unread_count"] == 3 for m in replayed)
        assert ready["unread_count"] == 3 and ready["last_id"] > seen
        # Then live, once each: a fan-out to the company's admins reaches the boss, not Ann ...
        async with tab(world, {"Cookie": await world.cookie_for("boss")}) as boss_tab:
            await boss_tab.ready()
            await helpers.notify_company_admins.using(producer=prod)(
                company_id=world.company_a, title="Audit", message="Now."
            )
            assert (await boss_tab.notification())["notification"]["title"] == "Audit"
        # ... and Ann's next one arrives after her replay, with nothing repeated in between.
        await helpers.notify_user.using(producer=prod)(user_id=ann, title="four", message="4")
        live = await after.notification()
        assert live["notification"]["title"] == "four" and live["replayed"] is False
        assert live["unread_count"] == 4


async def test_a_forged_channel_message_never_reaches_a_socket(
    world: LiveWorld, redis_url: str, prefix: str
):
    """Anyone who can PUBLISH on the Redis sends what a worker would: text, another user's
    notification id, an id that does not exist, a "read" of another's. None reaches Ann's
    socket; the real notification published after them is the first thing it receives."""
    ann, eve = world.users["ann"], world.users["eve"]
    prod = world.system.producer
    rows = await store.store_once(world.system.database, [NewNotification(
        job_key="eve-own", user_id=eve, company_id=world.company_a + 1,
        type=NotificationType.system, title="Eve's secret", message="Only Eve's.",
        priority=Priority.medium,
    )])  # fmt: skip
    eves_id = rows[0].id
    forged = [
        {"event": "notification", "user_id": ann, "unread_count": 9,
         "notification": {"id": 999, "title": "Your password expired: log in at evil.example"}},
        {"event": "notification", "user_id": ann, "id": eves_id},
        {"event": "notification", "user_id": ann, "id": eves_id + 1000},
        {"event": "notification", "user_id": ann, "id": True},
        {"event": "read", "user_id": ann, "ids": [eves_id]},
        "not json",
    ]  # fmt: skip
    publisher = aredis.from_url(redis_url, decode_responses=True)
    try:
        async with tab(world, {"Cookie": await world.cookie_for("ann")}) as ann_tab:
            await ann_tab.ready()
            for message in forged:
                body = message if isinstance(message, str) else json.dumps(message)
                assert await publisher.publish(channel(prefix), body) >= 1  # the web heard it
            await helpers.notify_user.using(producer=prod)(
                user_id=ann, title="Real", message="From the worker."
            )
            first = await ann_tab.next()
            assert first["type"] == "notification", first
            assert first["notification"]["title"] == "Real" and first["unread_count"] == 1
            # The real "read" event still passes, checked against the database.
            async with world.system.database.session() as s:
                user = await s.get(User, ann)
                assert user is not None
                _, token = await create_token(s, user, "script")
            ident = first["notification"]["id"]
            async with httpx.AsyncClient(base_url=world.base) as client:
                marked = await client.post(
                    f"/api/notifications/{ident}/read", headers={"Authorization": f"Bearer {token}"}
                )
                assert marked.status_code == 200, marked.text
            assert await ann_tab.next() == {"type": "read", "ids": [ident], "unread_count": 0}
    finally:
        await publisher.aclose()
