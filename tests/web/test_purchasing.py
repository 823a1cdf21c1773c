"""Purchase order routes: exact server-side totals, sending (the supplier's email is queued with
the request's transaction, 409 the second time), receiving into stock, audit entries, other
companies' ids 404 (422 inside a body). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import ProductKind, Role
from ils.domain.models.audit import AuditEntry
from ils.domain.models.catalog import Product, Supplier
from ils.errors import JobNotFound
from tests.web.conftest import Accounts
from tests.web.helpers import fields, outbox_rows, outsider_admin, relayed
from tests.web.helpers import signed_in as _signed_in


def signed_in(app: FastAPI, role: Role = Role.company_admin) -> Any:
    return _signed_in(app, role)


@dataclass(frozen=True)
class Catalogue:
    supplier: int
    lens: int
    frame: int


async def add_catalogue(
    db: Database, company_id: int, email: str | None = "po@hoya.localhost"
) -> Catalogue:
    async with db.session() as session:
        supplier = Supplier(company_id=company_id, name="Hoya", email=email)
        session.add(supplier)
        await session.flush()
        lens = Product(
            company_id=company_id, sku="SV-160", name="SV 1.60", kind=ProductKind.lens,
            price=Decimal("99.00"), cost=Decimal("33.33"), stock=2, reorder_threshold=4,
            supplier_id=supplier.id,
        )  # fmt: skip
        frame = Product(
            company_id=company_id, sku="FR-52", name="Acetate 52", kind=ProductKind.frame,
            price=Decimal("89.90"), cost=Decimal("12.00"),
        )  # fmt: skip
        session.add_all([lens, frame])
        await session.flush()
        return Catalogue(supplier.id, lens.id, frame.id)


@pytest.fixture
async def mine(db: Database, accounts: Accounts) -> Catalogue:
    return await add_catalogue(db, accounts.company_a)


@pytest.fixture
async def theirs(db: Database, accounts: Accounts) -> Catalogue:
    return await add_catalogue(db, accounts.company_b)


def order_of(c: Catalogue, **change: Any) -> dict[str, Any]:
    return {
        "supplier_id": c.supplier,
        "notes": "Restock before the spring rush.",
        "lines": [
            {"product_id": c.lens, "quantity": 3},  # at the product's cost, 33.33
            {"product_id": c.frame, "quantity": 7, "unit_cost": 0.1},
        ],
    } | change


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    response = await client.post("/api/purchase-orders", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_purchase_orders_total_exactly_on_the_server(api: FastAPI, mine: Catalogue):
    async with signed_in(api) as client:
        order = await create(client, order_of(mine))
        assert (order["number"], order["status"], order["sent_at"]) == ("PO-000001", "draft", None)
        assert [(ln["unit_cost"], ln["line_total"]) for ln in order["lines"]] == [
            ("33.33", "99.99"), ("0.10", "0.70"),
        ]  # fmt: skip
        assert order["total"] == "100.69"
        one_frame = order_of(mine, lines=[{"product_id": mine.frame, "quantity": 1}])
        second = await create(client, one_frame)
        assert (second["number"], second["total"]) == ("PO-000002", "12.00")
        assert (await client.get(f"/api/purchase-orders/{order['id']}")).json() == order
        listed = (await client.get("/api/purchase-orders")).json()
        assert [o["id"] for o in listed["items"]] == [second["id"], order["id"]]
        sent = await client.get("/api/purchase-orders", params={"status": "sent"})
        assert sent.json()["total"] == 0


async def test_sending_queues_the_email_once_and_is_audited(
    api: FastAPI, mine: Catalogue, accounts: Accounts, db: Database
):
    system: JobSystem = api.state.system
    async with signed_in(api) as client:
        order = await create(client, order_of(mine))
        url = f"/api/purchase-orders/{order['id']}/send"
        sent = await client.post(url)
        assert sent.status_code == 200, sent.text
        body = sent.json()
        assert body["purchase_order"]["status"] == "sent" and body["purchase_order"]["sent_at"]
        assert (body["job"]["queue"], body["job"]["name"]) == ("email", "purchase-order")
        again = await client.post(url)
        assert again.status_code == 409 and "already sent" in again.json()["detail"]
    await relayed(system)
    job = await system.admin.get_job("email", body["job"]["job_id"])
    assert job.data == {"purchaseOrderId": order["id"], "supplierId": mine.supplier}
    assert await outbox_rows(system) == 1
    async with db.session() as session:
        entries = (await session.scalars(select(AuditEntry))).all()
    sent_entries = [e for e in entries if e.action == "purchase_order.sent"]
    assert len(sent_entries) == 1
    assert sent_entries[0].target_id == str(order["id"])
    assert sent_entries[0].user_id == accounts.by_role[Role.company_admin]


async def test_receiving_adds_to_stock(api: FastAPI, mine: Catalogue, db: Database):
    async with signed_in(api) as client:
        body = order_of(mine, lines=[{"product_id": mine.lens, "quantity": 3},
                                     {"product_id": mine.lens, "quantity": 2}])  # fmt: skip
        order = await create(client, body)
        url = f"/api/purchase-orders/{order['id']}"
        early = await client.post(f"{url}/receive")
        assert early.status_code == 409 and "draft" in early.json()["detail"]
        assert (await client.post(f"{url}/send")).status_code == 200
        received = await client.post(f"{url}/receive")
        assert received.status_code == 200, received.text
        assert received.json()["status"] == "received" and received.json()["received_at"]
        assert (await client.post(f"{url}/receive")).status_code == 409
    async with db.session() as session:
        lens = await session.get(Product, mine.lens)
        assert lens is not None and lens.stock == 2 + 5
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions.count("purchase_order.received") == 1


async def test_a_supplier_without_email_cannot_be_sent_to(
    api: FastAPI, db: Database, accounts: Accounts
):
    system: JobSystem = api.state.system
    silent = await add_catalogue(db, accounts.company_a, email=None)
    async with signed_in(api) as client:
        order = await create(client, order_of(silent))
        response = await client.post(f"/api/purchase-orders/{order['id']}/send")
        assert response.status_code == 409 and "no email" in response.json()["detail"]
        assert (await client.get(f"/api/purchase-orders/{order['id']}")).json()["status"] == "draft"
    assert await outbox_rows(system) == 0


async def test_another_companys_orders_are_404_and_its_ids_422_in_bodies(
    api: FastAPI, mine: Catalogue, theirs: Catalogue
):
    system: JobSystem = api.state.system
    async with signed_in(api) as client:
        order = await create(client, order_of(mine))
        lines = [
            {"product_id": mine.lens, "quantity": 1},
            {"product_id": theirs.lens, "quantity": 1},
        ]
        foreign_product = order_of(mine, lines=lines)
        assert fields(await client.post("/api/purchase-orders", json=foreign_product)) == {
            "lines.1.product_id"
        }
        foreign_supplier = order_of(mine, supplier_id=theirs.supplier)
        assert fields(await client.post("/api/purchase-orders", json=foreign_supplier)) == {
            "supplier_id"
        }
    async with outsider_admin(api) as other:
        url = f"/api/purchase-orders/{order['id']}"
        assert (await other.get(url)).status_code == 404
        assert (await other.post(f"{url}/send")).status_code == 404
        assert (await other.post(f"{url}/receive")).status_code == 404
        assert (await other.get("/api/purchase-orders")).json()["total"] == 0
    async with signed_in(api) as client:
        assert (await client.get(url)).json()["status"] == "draft"
        assert (await client.post("/api/purchase-orders/999999/send")).status_code == 404
    await relayed(system)
    assert await outbox_rows(system) == 0
    with pytest.raises(JobNotFound):
        await system.admin.get_job("email", "1")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lines": []}, "lines"),
        ({"lines": [{"product_id": 1, "quantity": 0}]}, "lines.0.quantity"),
        ({"lines": [{"product_id": 1, "quantity": 1, "unit_cost": "1.001"}]}, "lines.0.unit_cost"),
        ({"lines": [{"product_id": 1, "quantity": 1, "unit_cost": -1}]}, "lines.0.unit_cost"),
        ({"lines": [{"quantity": 1}]}, "lines.0.product_id"),
        ({"lines": [{"product_id": 999999, "quantity": 1}]}, "lines.0.product_id"),
        ({"supplier_id": "hoya"}, "supplier_id"),
        ({"supplier_id": 99999999999}, "supplier_id"),
        ({"priority": "high"}, "priority"),
    ],
)
async def test_bad_purchase_orders_are_422_naming_the_field(
    api: FastAPI, mine: Catalogue, change: dict[str, Any], field: str
):
    async with signed_in(api) as client:
        assert field in fields(
            await client.post("/api/purchase-orders", json=order_of(mine, **change))
        )
        assert (await client.get("/api/purchase-orders")).json()["total"] == 0
