"""Order routes: creating an order enqueues its four jobs in the request's transaction; status
changes and shipping notify; other companies' orders are 404; bad input is a 422 naming the
field. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import LineKind, Role
from ils.domain.models.accounts import User
from ils.domain.models.audit import AuditEntry
from ils.domain.models.events import Event
from ils.domain.services import orders as service
from ils.queue.outbox_table import outbox
from tests.web.conftest import Accounts, csrf_headers, logged_in, make_client
from tests.web.helpers import outsider_admin

# The event dispatch queued by the login's event, not by the order.
DISPATCH = "dispatch-events"
ORDER: dict[str, Any] = {
    "customer_name": "Dana Whitfield",
    "lines": [
        {"kind": "lens", "description": "SV 1.6 AR", "quantity": 2, "unit_price": "33.33",
         "eye": "both"},
        {"kind": "frame", "description": "Acetate frame", "unit_price": "89.90"},
    ],
    "rx": {"right": {"sphere": "-2.25", "cylinder": "-0.50", "axis": 180},
           "left": {"sphere": "-2.00", "add": "1.25"}, "pd_binocular": "63.5"},
    "tax_rate_percent": "20",
    "tray_number": "T-17",
}  # fmt: skip


def system_of(app: FastAPI) -> JobSystem:
    system: JobSystem = app.state.system
    return system


async def relayed(app: FastAPI) -> None:
    """Wait until the jobs of committed requests are in BullMQ (no sleeping)."""
    relay = system_of(app).producer.relay
    assert relay is not None
    await relay.wait_idle()


async def create(client: Any, body: dict[str, Any] | None = None) -> Any:
    return await client.post("/api/orders", json=body or ORDER, headers=csrf_headers(client))


async def test_creating_an_order_enqueues_its_four_jobs(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.dispenser) as client:
        response = await create(client)
    assert response.status_code == 201, response.text
    body = response.json()
    order = body["order"]
    assert order["number"] == f"ORD-{order['id']:06d}"
    assert order["status"] == "pending"
    assert [(line["quantity"], line["line_total"]) for line in order["lines"]] == [
        (2, "66.66"), (1, "89.90"),
    ]  # fmt: skip
    assert (order["subtotal"], order["tax"], order["total"]) == ("156.56", "31.31", "187.87")
    assert order["rx"]["right"]["sphere"] == "-2.25" and order["rx"]["right"]["axis"] == 180
    assert Decimal(order["rx"]["pd"]["binocular"]) == Decimal("63.5")
    kinds = [(j["queue"], j["name"]) for j in body["jobs"]]
    assert kinds == [
        ("email", "order-confirmation"), ("pdf", "order-sheet"),
        ("pdf", "lab-work-ticket"), ("notification", "order"),
    ]  # fmt: skip
    await relayed(app)
    admin = system_of(app).admin
    for job in body["jobs"]:
        view = await admin.get_job(job["queue"], job["job_id"])
        assert view.data.get("orderId") == order["id"]
    confirmation = await admin.get_job("email", body["jobs"][0]["job_id"])
    assert confirmation.data == {"orderId": order["id"], "userId": accounts.by_role[Role.dispenser]}


async def test_an_order_that_rolls_back_enqueues_nothing(app: FastAPI, accounts: Accounts):
    system = system_of(app)
    db: Database = system.database
    data = service.OrderInput(
        customer_name="Rolled Back",
        lines=[service.LineInput(kind=LineKind.service, quantity=1, description="Fitting",
                                 unit_price=Decimal("10.00"))],
    )  # fmt: skip
    with pytest.raises(RuntimeError):
        async with db.session() as session:
            user = await session.get(User, accounts.by_role[Role.dispenser])
            assert user is not None
            result = await service.create_order(session, user, data)
            assert len(result.jobs) == 4
            raise RuntimeError("the request failed after the enqueues")
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(outbox))).scalar() == 0
        assert (await session.execute(select(func.count()).select_from(Event))).scalar() == 0
    assert system.producer.relay is not None
    assert await system.producer.relay.relay_pending() == 0
    stats = await system.admin.stats()
    assert all(n == 0 for counts in stats.values() for n in counts.values())


async def test_orders_of_another_company_are_404(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.dispenser) as client:
        order_id = (await create(client)).json()["order"]["id"]
        assert (await client.get(f"/api/orders/{order_id}")).status_code == 200
        listed = (await client.get("/api/orders")).json()
        assert [o["id"] for o in listed] == [order_id]
    async with outsider_admin(app) as outsider:
        assert (await outsider.get(f"/api/orders/{order_id}")).status_code == 404
        assert (await outsider.get("/api/orders")).json() == []
        moved = await outsider.post(f"/api/orders/{order_id}/status", json={"status": "cancelled"})
        assert moved.status_code == 404


async def test_status_changes_follow_the_workflow_and_notify(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.lab_technician) as client:
        order_id = (await create(client)).json()["order"]["id"]
        post = client.post
        h = csrf_headers(client)
        url = f"/api/orders/{order_id}"
        bad = await post(f"{url}/status", json={"status": "delivered"}, headers=h)
        assert bad.status_code == 409 and "cannot go from pending to delivered" in bad.text
        no_tracking = await post(f"{url}/status", json={"status": "shipped"}, headers=h)
        assert no_tracking.status_code == 422 and "status" in no_tracking.text
        for step in ("in_production", "quality_check"):
            moved = await post(f"{url}/status", json={"status": step}, headers=h)
            assert moved.status_code == 200, moved.text
            assert [(j["queue"], j["name"]) for j in moved.json()["jobs"]] == [
                ("notification", "order")
            ]
        shipped = await post(
            f"{url}/ship", json={"tracking_number": "1Z999AA10123456784", "carrier": "UPS"},
            headers=h,
        )  # fmt: skip
        assert shipped.status_code == 200, shipped.text
        body = shipped.json()
        assert body["order"]["status"] == "shipped" and body["order"]["shipped_at"]
        assert [(j["queue"], j["name"]) for j in body["jobs"]] == [
            ("email", "order-shipment"), ("notification", "order"),
        ]  # fmt: skip
        again = await post(f"{url}/ship", json={"tracking_number": "X"}, headers=h)
        assert again.status_code == 409
    await relayed(app)
    email = await system_of(app).admin.get_job("email", body["jobs"][0]["job_id"])
    assert email.data["trackingNumber"] == "1Z999AA10123456784"
    async with system_of(app).database.session() as session:
        actions = (await session.execute(select(AuditEntry.action))).scalars().all()
    assert actions.count("order.status") == 2 and "order.shipped" in actions


async def test_editing_details_records_old_and_new_values_in_the_history(
    app: FastAPI, accounts: Accounts
):
    async with logged_in(app, Role.lab_technician) as client:
        order_id = (await create(client)).json()["order"]["id"]
        h = csrf_headers(client)
        url = f"/api/orders/{order_id}"
        edit = {"tray_number": "T-18", "due_date": "2027-02-01", "frame_a": "52"}
        edited = await client.patch(f"{url}/details", json=edit, headers=h)
        assert edited.status_code == 200, edited.text
        assert edited.json()["due_date"] == "2027-02-01"
        for bad, field in (({}, "body"), ({"customer_name": None}, "customer_name"),
                           ({"frame_a": "0"}, "frame_a"), ({"total": "1"}, "total")):  # fmt: skip
            refused = await client.patch(f"{url}/details", json=bad, headers=h)
            assert refused.status_code == 422 and field in refused.text, refused.text
        history = (await client.get(f"{url}/history")).json()
        updated = [e for e in history["events"] if e["type"] == "order.updated"]
        assert [e["data"]["changes"] for e in updated] == [{
            "due_date": {"old": None, "new": "2027-02-01"},
            "frame_a": {"old": None, "new": "52.00"},
            "tray_number": {"old": "T-17", "new": "T-18"},
        }]  # fmt: skip
        await client.post(f"{url}/status", json={"status": "cancelled"}, headers=h)
        late = await client.patch(f"{url}/details", json={"tray_number": "T-1"}, headers=h)
        assert late.status_code == 409 and "final" in late.text
    async with outsider_admin(app) as outsider:
        other = await outsider.patch(f"{url}/details", json={"tray_number": "T-2"})
        assert other.status_code == 404


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": []}, "lines"),
        ({"customer_name": ""}, "customer_name"),
        ({"lines": [{"kind": "lens", "quantity": 0, "description": "x", "unit_price": "1"}]},
         "quantity"),
        ({"lines": [{"kind": "lens", "description": "x", "unit_price": "1.005"}]}, "unit_price"),
        ({"lines": [{"kind": "telescope", "description": "x", "unit_price": "1"}]}, "kind"),
        ({"lines": [{"kind": "lens"}]}, "lines.0.unit_price"),
        ({"lines": [{"kind": "lens", "product_id": 999999}]}, "lines.0.product_id"),
        ({"patient_id": 999999}, "patient_id"),
        ({"rx": {"right": {"axis": 181}}}, "axis"),
        ({"colour": "red"}, "colour"),
    ],
)  # fmt: skip
async def test_bad_orders_are_422_naming_the_field_and_enqueue_nothing(
    app: FastAPI, accounts: Accounts, change: dict[str, Any], field: str
):
    async with logged_in(app, Role.dispenser) as client:
        response = await create(client, ORDER | change)
    assert response.status_code == 422, response.text
    assert field.split(".")[-1] in response.text
    async with system_of(app).database.session() as session:
        jobs = select(func.count()).select_from(outbox).where(outbox.c.name != DISPATCH)
        assert (await session.execute(jobs)).scalar() == 0


async def test_orders_need_a_login_and_cookie_writes_need_csrf(app: FastAPI, accounts: Accounts):
    async with make_client(app) as anonymous:
        assert (await anonymous.post("/api/orders", json=ORDER)).status_code == 401
    async with logged_in(app, Role.dispenser) as client:
        assert (await client.post("/api/orders", json=ORDER)).status_code == 403
