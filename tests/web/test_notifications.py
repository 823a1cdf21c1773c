"""The notification REST API on both databases: my own notifications only (others' ids are 404),
newest first in pages, the unread filter and count, marking one or all read (announced on the
live channel), and bad input named by its field."""

from __future__ import annotations

import datetime as dt
import json

import redis.asyncio as aredis
from fastapi import FastAPI

from ils.domain.db import Database
from ils.domain.models import Notification, NotificationType, Priority, Role
from ils.jobs.notification import channel
from tests.web.conftest import Accounts, make_client
from tests.web.helpers import fields, outsider, signed_in

START = dt.datetime(2026, 11, 1, 9, tzinfo=dt.UTC)


async def seed(db: Database, user_id: int, company_id: int, n: int, read: int = 0) -> list[int]:
    """``n`` notifications for the user, one minute apart; the first ``read`` of them read."""
    async with db.session() as s:
        rows = [
            Notification(
                user_id=user_id, company_id=company_id, type=NotificationType.system,
                title=f"note {i}", message=f"message {i}", priority=Priority.medium,
                created_at=START + dt.timedelta(minutes=i),
                read_at=START + dt.timedelta(hours=1) if i < read else None,
            )
            for i in range(n)
        ]  # fmt: skip
        s.add_all(rows)
        await s.flush()
        return [r.id for r in rows]


async def test_a_user_pages_through_their_own_notifications_newest_first(
    api: FastAPI, accounts: Accounts, db: Database
):
    mine = await seed(db, accounts.by_role[Role.dispenser], accounts.company_a, 5, read=2)
    await seed(db, accounts.by_role[Role.staff], accounts.company_a, 3)  # a colleague's
    async with signed_in(api, Role.dispenser) as client:
        first = (await client.get("/api/notifications", params={"limit": 2})).json()
        assert [n["id"] for n in first["items"]] == [mine[4], mine[3]]
        assert first["unread_count"] == 3 and first["next_before_id"] == mine[3]
        second = (
            await client.get("/api/notifications", params={"limit": 2, "before_id": mine[3]})
        ).json()
        assert [n["id"] for n in second["items"]] == [mine[2], mine[1]]
        last = (
            await client.get("/api/notifications", params={"limit": 2, "before_id": mine[1]})
        ).json()
        assert [n["id"] for n in last["items"]] == [mine[0]] and last["next_before_id"] is None
        unread = (await client.get("/api/notifications", params={"unread": "true"})).json()
        assert [n["id"] for n in unread["items"]] == [mine[4], mine[3], mine[2]]
        item = first["items"][0]
        assert item == {
            "id": mine[4], "type": "system", "title": "note 4", "message": "message 4",
            "priority": "medium", "action_url": None, "read_at": None,
            "created_at": item["created_at"],
        }  # fmt: skip
        assert dt.datetime.fromisoformat(item["created_at"]) == START + dt.timedelta(minutes=4)
        count = await client.get("/api/notifications/unread-count")
        assert count.json() == {"unread_count": 3}


async def test_marking_read_changes_only_my_own_and_tells_my_sockets(
    api: FastAPI, accounts: Accounts, db: Database, redis_url: str, prefix: str
):
    mine = await seed(db, accounts.by_role[Role.dispenser], accounts.company_a, 3)
    colleague = await seed(db, accounts.by_role[Role.staff], accounts.company_a, 1)
    other_company = await seed(db, accounts.outsider, accounts.company_b, 1)
    listener = aredis.from_url(redis_url, decode_responses=True)
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel(prefix))
    try:
        async with signed_in(api, Role.dispenser) as client:
            for foreign in (colleague[0], other_company[0], 2_000_000_000):
                answer = await client.post(f"/api/notifications/{foreign}/read")
                assert answer.status_code == 404, answer.text
            one = await client.post(f"/api/notifications/{mine[0]}/read")
            assert one.status_code == 200 and one.json()["read_at"] is not None
            again = await client.post(f"/api/notifications/{mine[0]}/read")
            assert again.json()["read_at"] == one.json()["read_at"]  # the first time is kept
            assert (await client.get("/api/notifications/unread-count")).json()["unread_count"] == 2
            everything = await client.post("/api/notifications/read-all")
            assert everything.json() == {"marked": 2, "unread_count": 0}
        events = []
        while len(events) < 3:
            message = await pubsub.get_message(timeout=10)
            if message is not None:
                events.append(json.loads(message["data"]))
    finally:
        await pubsub.aclose()
        await listener.aclose()
    me = accounts.by_role[Role.dispenser]
    assert events == [
        {"event": "read", "user_id": me, "ids": [mine[0]]},
        {"event": "read", "user_id": me, "ids": [mine[0]]},
        {"event": "read", "user_id": me, "ids": "all"},
    ]
    async with outsider(api) as client:
        theirs = (await client.get("/api/notifications")).json()
        assert [n["id"] for n in theirs["items"]] == other_company
        assert theirs["unread_count"] == 1
        assert (await client.post(f"/api/notifications/{mine[1]}/read")).status_code == 404


async def test_bad_input_is_named_and_strangers_are_turned_away(api: FastAPI):
    async with signed_in(api, Role.dispenser) as client:
        for params, field in (
            ({"limit": 0}, "limit"),
            ({"limit": 101}, "limit"),
            ({"before_id": "x"}, "before_id"),
            ({"unread": "perhaps"}, "unread"),
        ):
            assert fields(await client.get("/api/notifications", params=params)) == {field}
        assert fields(await client.post("/api/notifications/0/read")) == {"notification_id"}
        assert fields(await client.post("/api/notifications/abc/read")) == {"notification_id"}
        no_csrf = await client.post(
            "/api/notifications/read-all", headers={"X-CSRF-Token": "wrong"}
        )
        assert no_csrf.status_code == 403
    async with make_client(api) as anonymous:
        assert (await anonymous.get("/api/notifications")).status_code == 401
        assert (await anonymous.get("/api/notifications/unread-count")).status_code == 401
