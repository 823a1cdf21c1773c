"""``/api/webhooks`` on SQLite and PostgreSQL: a company's admins keep their company's endpoints
and see no other; bad input (a URL not https, a refused address, an unknown event type) is a 422
naming the field; rotation keeps the old secret signing for the overlap; test-send and a
delivery's retry are queued; every change is audited. (Who may call each route at all is the
route matrix's: tests/web/test_route_matrix.py.)"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.models import AuditEntry, Role, WebhookDelivery
from tests.web.conftest import Accounts, csrf_headers, logged_in

HOOK = {"url": "https://lab-system.example/hooks/ils", "event_types": ["order.shipped"]}


async def _send(client: httpx.AsyncClient, method: str, path: str, body: Any = None
                ) -> httpx.Response:  # fmt: skip
    return await client.request(method, path, json=body, headers=csrf_headers(client))


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


async def test_an_admin_keeps_the_company_endpoints(
    api: FastAPI, accounts: Accounts, db: Database
) -> None:
    async with logged_in(api, Role.company_admin) as client:
        made = await _send(client, "POST", "/api/webhooks/endpoints", HOOK)
        assert made.status_code == 201, made.text
        row = made.json()
        assert row["company_id"] == accounts.company_a and row["enabled"]
        assert row["secret"].startswith("whsec_") and row["previous_secret_expires_at"] is None
        listed = (await client.get("/api/webhooks/endpoints")).json()
        assert [e["id"] for e in listed["items"]] == [row["id"]]
        path = f"/api/webhooks/endpoints/{row['id']}"
        rotated = (await _send(client, "POST", f"{path}/rotate-secret", {"overlap_s": 600})).json()
        assert rotated["secret"] != row["secret"] and rotated["previous_secret_expires_at"]
        changed = await _send(client, "PATCH", path, {"enabled": False})
        assert changed.json()["disabled_reason"] == "disabled by hand"
        enabled = (await _send(client, "POST", f"{path}/enable")).json()
        assert enabled["enabled"] and enabled["disabled_reason"] is None
        sent = await _send(client, "POST", f"{path}/test")
        assert sent.status_code == 202 and sent.json()["name"] == "deliver-webhook"
        assert sent.json()["job_id"] == f"w{sent.json()['event_id']}-{row['id']}"
        assert (await client.get(f"{path}/deliveries")).json()["total"] == 0
        assert (await _send(client, "DELETE", path)).status_code == 204
        assert (await client.get(path)).status_code == 404
    async with db.session() as s:
        actions = list(await s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert [a for a in actions if a.startswith("webhooks.")] == [
        "webhooks.created", "webhooks.secret_rotated", "webhooks.changed", "webhooks.enabled",
        "webhooks.test_sent", "webhooks.removed",
    ]  # fmt: skip


async def test_bad_input_is_a_422_naming_the_field(api: FastAPI, accounts: Accounts) -> None:
    async with logged_in(api, Role.company_admin) as client:
        for url in ("http://lab-system.example/", "https://10.0.0.7/", "https://127.0.0.1/",
                    "https://169.254.169.254/latest/meta-data", "gopher://x.example/"):  # fmt: skip
            got = await _send(client, "POST", "/api/webhooks/endpoints", HOOK | {"url": url})
            assert _fields(got) == ["url"], url
        unknown = HOOK | {"event_types": ["order.shiped"]}
        assert _fields(await _send(client, "POST", "/api/webhooks/endpoints", unknown)) == [
            "event_types"
        ]
        other = HOOK | {"company_id": accounts.company_b}
        assert _fields(await _send(client, "POST", "/api/webhooks/endpoints", other)) == [
            "company_id"
        ]
        long_overlap = {"overlap_s": 30 * 24 * 3600}
        made = (await _send(client, "POST", "/api/webhooks/endpoints", HOOK)).json()
        path = f"/api/webhooks/endpoints/{made['id']}/rotate-secret"
        assert _fields(await _send(client, "POST", path, long_overlap)) == ["overlap_s"]


async def test_a_delivery_is_retried_by_hand(
    api: FastAPI, accounts: Accounts, db: Database
) -> None:
    async with logged_in(api, Role.company_admin) as client:
        made = (await _send(client, "POST", "/api/webhooks/endpoints", HOOK)).json()
        event = {"id": "01JF0000000000000000000000", "type": "order.shipped", "version": 1,
                 "company_id": accounts.company_a, "occurred_at": "2026-12-07T06:00:00Z",
                 "data": {"order_id": 1}}  # fmt: skip
        async with db.session() as s:
            row = WebhookDelivery(
                company_id=accounts.company_a, endpoint_id=made["id"], event_id=event["id"],
                event_type="order.shipped", job_id="w1", attempt=15, max_attempts=15,
                envelope=event, status_code=503, error="HTTP 503", ok=False,
            )  # fmt: skip
            s.add(row)
            await s.flush()
            delivery_id = row.id
        page = (await client.get(f"/api/webhooks/endpoints/{made['id']}/deliveries")).json()
        assert [d["status_code"] for d in page["items"]] == [503]
        retried = await _send(client, "POST", f"/api/webhooks/deliveries/{delivery_id}/retry")
        assert retried.status_code == 202 and retried.json()["job_id"] == f"wr{delivery_id}-1"
