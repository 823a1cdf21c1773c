"""The event log's routes on SQLite and PostgreSQL: the catalog as JSON Schema; the log filtered
and cursor-paged, each company seeing only its own (platform admins all); an order's history with
who did what; replay's dry run; unknown types a 422 naming the field; no route writes events."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI

from ils.domain.enums import Role
from tests.web.conftest import Accounts, csrf_headers, logged_in
from tests.web.helpers import outsider_admin
from tests.web.test_orders import ORDER


async def place(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/api/orders", json=ORDER, headers=csrf_headers(client))
    assert response.status_code == 201, response.text
    order: dict[str, Any] = response.json()["order"]
    return order


async def test_the_catalog_is_published_as_json_schema(api: FastAPI):
    async with logged_in(api, Role.company_admin) as client:
        types = (await client.get("/api/events/types")).json()
    by_type = {(t["type"], t["version"]): t for t in types}
    created = by_type[("order.created", 1)]
    assert created["schema"]["type"] == "object"
    assert {"order_id", "number", "total"} <= set(created["schema"]["properties"])


async def test_an_orders_history_says_who_changed_it_and_when(api: FastAPI, accounts: Accounts):
    async with logged_in(api, Role.dispenser) as client:
        order = await place(client)
    async with logged_in(api, Role.lab_technician) as client:
        moved = await client.post(
            f"/api/orders/{order['id']}/status",
            json={"status": "in_production"},
            headers=csrf_headers(client),
        )
        assert moved.status_code == 200, moved.text
        history = (await client.get(f"/api/orders/{order['id']}/history")).json()
    events = history["events"]
    assert [e["type"] for e in events] == ["order.created", "order.status_changed"]
    assert events[0]["actor"]["user_id"] == accounts.by_role[Role.dispenser]
    assert events[1]["actor"]["user_id"] == accounts.by_role[Role.lab_technician]
    assert events[1]["data"]["from_status"] == "pending"
    assert events[1]["data"]["to_status"] == "in_production"
    async with outsider_admin(api) as other:
        assert (await other.get(f"/api/orders/{order['id']}/history")).status_code == 404


async def test_the_log_is_filtered_paged_and_scoped_to_the_company(
    api: FastAPI, accounts: Accounts
):
    async with logged_in(api, Role.dispenser) as client:
        orders = [await place(client) for _ in range(3)]
    async with logged_in(api, Role.company_admin) as client:
        seen: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"type": "order.created", "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/events", params=params)).json()
            seen += page["events"]
            cursor = page["next_cursor"]
            if cursor is None:
                break
        mine = (await client.get("/api/events", params={"type": "user.logged_in"})).json()
        bad = await client.get("/api/events", params={"type": "order.exploded"})
    assert [e["data"]["order_id"] for e in seen] == [o["id"] for o in reversed(orders)]
    assert len({e["id"] for e in seen}) == 3
    assert all(e["company_id"] == accounts.company_a for e in mine["events"])
    assert bad.status_code == 422 and "type" in bad.text
    async with outsider_admin(api) as other:
        theirs = (await other.get("/api/events", params={"type": "order.created"})).json()
    assert theirs["events"] == []
    async with logged_in(api, Role.platform_admin) as admin:
        every = (await admin.get("/api/events", params={"type": "order.created"})).json()
    assert len(every["events"]) == 3


async def test_replay_counts_in_a_dry_run_and_refuses_unknown_subscribers(api: FastAPI):
    async with logged_in(api, Role.dispenser) as client:
        await place(client)
    body = {"subscriber": "live", "since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z",
            "types": ["order.created"], "dry_run": True}  # fmt: skip
    async with logged_in(api, Role.platform_admin) as admin:
        headers = csrf_headers(admin)
        counted = await admin.post("/api/events/replay", json=body, headers=headers)
        unknown = await admin.post("/api/events/replay", json=body | {"subscriber": "lve"},
                                   headers=headers)  # fmt: skip
        backwards = await admin.post("/api/events/replay", json=body | {"until": body["since"]},
                                     headers=headers)  # fmt: skip
    assert counted.status_code == 200, counted.text
    assert counted.json() | {"error": None} == {
        "subscriber": "live", "matched": 1, "delivered": 0, "dry_run": True,
        "failed_event": None, "error": None,
    }  # fmt: skip
    assert unknown.status_code == 422 and "did you mean 'live'" in unknown.text
    assert backwards.status_code == 422 and "until" in backwards.text


def test_no_route_writes_the_event_log(app: FastAPI):
    writes = [
        (method, route.path)
        for route in app.routes
        for method in getattr(route, "methods", set())
        if "/api/events" in getattr(route, "path", "") and method in {"PUT", "PATCH", "DELETE"}
    ]
    assert writes == []
