"""The live hub of a web process: one subscription fans events out to the right user's inboxes
only, as the database has them (a forged or stale event delivers nothing), a burst is read from
the database together, and after Redis restarts it subscribes again and tells every inbox to
resync (events published meanwhile were lost to it)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import redis.asyncio as aredis

from ils.domain.db import Database
from ils.domain.enums import NotificationType, Priority
from ils.domain.models import Company, CompanyKind, Role, User
from ils.domain.services import notifications as store
from ils.domain.services.notifications import NewNotification
from ils.jobs.notification import LiveEvent, NotificationPublisher, channel
from ils.queue.broker import Broker
from ils.queue.embedded import EmbeddedServer
from ils.web.live_hub import RESYNC, Delivery, Inbox, LiveHub
from tests.conftest import make_settings

WAIT_S = 20


async def two_users(db: Database) -> tuple[int, int]:
    async with db.session() as s:
        company = Company(name="Clear Sight", slug="clear", kind=CompanyKind.practice)
        s.add(company)
        await s.flush()
        users = [
            User(company_id=company.id, email=f"{n}@a.localhost", name=n, password_hash="x",
                 role=Role.staff)
            for n in ("ann", "bob")
        ]  # fmt: skip
        s.add_all(users)
        await s.flush()
        return users[0].id, users[1].id


async def stored(db: Database, user_id: int, title: str) -> int:
    async with db.session() as s:
        company_id = (await s.get(User, user_id)).company_id  # type: ignore[union-attr]
    (row,) = await store.store_once(db, [NewNotification(
        job_key=f"job-{title}", user_id=user_id, company_id=company_id,
        type=NotificationType.system, title=title, message=title, priority=Priority.medium,
    )])  # fmt: skip
    return row.id


def note(user_id: int, ident: int) -> LiveEvent:
    return LiveEvent("notification", user_id, notification_id=ident)


async def title_of(inbox: Inbox) -> str:
    item = await asyncio.wait_for(inbox.get(), WAIT_S)
    assert isinstance(item, Delivery) and item.notification is not None, item
    return str(item.notification["title"])


async def test_the_hub_fans_out_by_user_and_resyncs_after_redis_restarts(
    own_server: EmbeddedServer, tmp_path: Path, db: Database
):
    ann, bob = await two_users(db)
    url = own_server.ensure()
    broker = Broker(make_settings(url, "hub", tmp_path))
    hub, publisher = LiveHub(broker, db), NotificationPublisher(broker)
    hub.start()
    try:
        assert await hub.wait_ready(WAIT_S)
        ann_1, ann_2, bob_box = hub.register(ann), hub.register(ann), hub.register(bob)
        assert hub.connected == 3
        first, second = await stored(db, ann, "a1"), await stored(db, bob, "b1")
        await publisher.publish([note(ann, first), note(bob, second)])
        for inbox in (ann_1, ann_2):
            item = await asyncio.wait_for(inbox.get(), WAIT_S)
            assert isinstance(item, Delivery)
            assert item.notification is not None and item.notification["id"] == first
            assert item.notification["title"] == "a1" and item.unread_count == 1
        assert await title_of(bob_box) == "b1"

        await asyncio.to_thread(own_server.stop)
        await publisher.close()  # its connection died with the server
        assert await asyncio.to_thread(own_server.ensure) == url
        for inbox in (ann_1, ann_2, bob_box):
            assert await asyncio.wait_for(inbox.get(), WAIT_S) is RESYNC
        assert await hub.wait_ready(WAIT_S)
        third = await stored(db, bob, "b2")
        await publisher.publish([note(bob, third)])
        assert await title_of(bob_box) == "b2"
        hub.unregister(bob_box)
        assert hub.connected == 2
    finally:
        await hub.stop()
        await publisher.close()
        await broker.close()


async def test_forged_events_deliver_nothing_and_a_burst_is_delivered_in_order(
    own_server: EmbeddedServer, tmp_path: Path, db: Database
):
    ann, bob = await two_users(db)
    url = own_server.ensure()
    broker = Broker(make_settings(url, "hub", tmp_path))
    hub, publisher = LiveHub(broker, db), NotificationPublisher(broker)
    raw = aredis.from_url(url, decode_responses=True)
    hub.start()
    try:
        assert await hub.wait_ready(WAIT_S)
        inbox = hub.register(ann)
        bobs = await stored(db, bob, "Bob's")
        async with db.session() as s:
            await store.mark_read(s, (await store.by_ids(s, [bobs]))[bobs])

        def event(**body: object) -> str:
            return json.dumps(body)

        forged = [
            event(event="notification", user_id=ann, notification={"id": 1, "title": "Phish"}),
            event(event="notification", user_id=ann, id=bobs),  # Bob's, not Ann's
            event(event="notification", user_id=ann, id=bobs + 100),  # no such notification
            event(event="notification", user_id=ann, id=1.5),
            event(event="read", user_id=ann, ids=[bobs]),  # Bob's, read
            "garbage",
        ]
        for body in forged:
            await raw.publish(channel("hub"), body)
        burst = [await stored(db, ann, f"n{i}") for i in range(30)]
        await publisher.publish([note(ann, ident) for ident in burst])
        titles = [await title_of(inbox) for _ in burst]
        assert titles == [f"n{i}" for i in range(30)]  # nothing forged came first
        assert inbox._queue.empty()  # nothing else either
    finally:
        await raw.aclose()
        await hub.stop()
        await publisher.close()
        await broker.close()
