"""Invoice and payment routes: exact totals and half-up tax, invoices from orders, issuing (the
PDF is queued with the request's transaction), payments up to the balance (each queues a
receipt; a refused one queues nothing), audit entries, other companies' ids 404 (422 inside a
body). Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import LineKind, OrderStatus, PaymentMethod, ProductKind, Role
from ils.domain.models.audit import AuditEntry
from ils.domain.models.billing import Invoice, Payment
from ils.domain.models.catalog import Product
from ils.domain.models.orders import Order, OrderLine
from ils.domain.services import billing
from ils.domain.services.billing import PaymentCreate
from ils.errors import JobNotFound
from tests.web.conftest import Accounts
from tests.web.helpers import fields, outbox_rows, outsider_admin, relayed, signed_in

THREE_LENSES: dict[str, Any] = {
    "billing_name": "Dana Whitfield",
    "lines": [{"description": "SV 1.60 lens", "quantity": 3, "unit_price": "33.33"}],
    "tax_rate": "20",
}


async def add_order(db: Database, company_id: int, number: str = "ORD-000001") -> int:
    """A delivered order: 2 x 33.33 and 1 x 89.90, tax 31.31 (20 %), total 187.87."""
    async with db.session() as session:
        order = Order(
            company_id=company_id, number=number, customer_name="Femi Okafor",
            status=OrderStatus.delivered, subtotal=Decimal("156.56"), tax=Decimal("31.31"),
            total=Decimal("187.87"),
            lines=[
                OrderLine(kind=LineKind.lens, description="SV 1.60 AR", quantity=2,
                          unit_price=Decimal("33.33"), line_total=Decimal("66.66")),
                OrderLine(kind=LineKind.frame, description="Acetate 52", quantity=1,
                          unit_price=Decimal("89.90"), line_total=Decimal("89.90")),
            ],
        )  # fmt: skip
        session.add(order)
        await session.flush()
        return order.id


async def add_product(db: Database, company_id: int) -> int:
    async with db.session() as session:
        product = Product(company_id=company_id, sku="ACC-CASE", name="Hard case",
                          kind=ProductKind.accessory, price=Decimal("7.50"))  # fmt: skip
        session.add(product)
        await session.flush()
        return product.id


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> Any:
    response = await client.post("/api/invoices", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def amounts(invoice: dict[str, Any]) -> tuple[str, ...]:
    keys = ("subtotal", "tax", "total", "amount_paid", "balance_due")
    return tuple(invoice[key] for key in keys)


async def test_invoice_totals_are_exact_and_tax_rounds_half_up(
    api: FastAPI, db: Database, accounts: Accounts
):
    case = await add_product(db, accounts.company_a)
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, THREE_LENSES)
        assert (invoice["number"], invoice["status"], invoice["tax_rate"]) == (
            "INV-000001", "draft", "20.000",
        )  # fmt: skip
        assert invoice["lines"][0]["line_total"] == "99.99"
        # 99.99 x 20 % = 19.998 -> 20.00
        assert amounts(invoice) == ("99.99", "20.00", "119.99", "0.00", "119.99")
        cloth = await create(client, {
            "billing_name": "Walk-in", "tax_rate": 10,
            "lines": [{"description": "Cloth", "unit_price": 12.45},
                      {"product_id": case, "quantity": 2}],
        })  # fmt: skip
        assert cloth["number"] == "INV-000002"
        rows = [(ln["description"], ln["unit_price"], ln["line_total"]) for ln in cloth["lines"]]
        assert rows == [("Cloth", "12.45", "12.45"), ("Hard case", "7.50", "15.00")]
        # 27.45 x 10 % = 2.745 -> 2.75 (half-up; half-even would give 2.74)
        assert amounts(cloth)[:3] == ("27.45", "2.75", "30.20")
        assert (await client.get(f"/api/invoices/{invoice['id']}")).json() == invoice
        listed = (await client.get("/api/invoices")).json()
        assert [i["id"] for i in listed["items"]] == [cloth["id"], invoice["id"]]
        assert (await client.get("/api/invoices", params={"status": "paid"})).json()["total"] == 0


async def test_an_invoice_of_an_order_copies_its_lines_and_tax(
    api: FastAPI, db: Database, accounts: Accounts
):
    order_id = await add_order(db, accounts.company_a)
    other_order = await add_order(db, accounts.company_a, "ORD-000002")
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, {"order_id": order_id})
        assert invoice["order_id"] == order_id and invoice["billing_name"] == "Femi Okafor"
        assert [(ln["quantity"], ln["line_total"]) for ln in invoice["lines"]] == [
            (2, "66.66"), (1, "89.90"),
        ]  # fmt: skip
        assert amounts(invoice)[:3] == ("156.56", "31.31", "187.87")
        again = await client.post("/api/invoices", json={"order_id": order_id})
        assert again.status_code == 409 and "already invoiced" in again.json()["detail"]
        taxed = await create(client, {"order_id": other_order, "tax_rate": "8.875"})
        # 156.56 x 8.875 % = 13.8947 -> 13.89
        assert (taxed["tax_rate"], *amounts(taxed)[:3]) == ("8.875", "156.56", "13.89", "170.45")
        by_order = await client.get("/api/invoices", params={"order_id": order_id})
        assert [i["id"] for i in by_order.json()["items"]] == [invoice["id"]]


async def test_issuing_queues_the_pdf_once_and_is_audited(api: FastAPI, db: Database):
    system: JobSystem = api.state.system
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, THREE_LENSES)
        url = f"/api/invoices/{invoice['id']}/issue"
        issued = await client.post(url)
        assert issued.status_code == 200, issued.text
        body = issued.json()
        assert body["invoice"]["status"] == "issued" and body["invoice"]["issued_at"]
        assert (body["job"]["queue"], body["job"]["name"]) == ("pdf", "invoice")
        again = await client.post(url)
        assert again.status_code == 409 and "already issued" in again.json()["detail"]
    await relayed(system)
    job = await system.admin.get_job("pdf", body["job"]["job_id"])
    assert job.data == {"invoiceId": invoice["id"]}
    assert await outbox_rows(system) == 1
    async with db.session() as session:
        entries = (await session.scalars(select(AuditEntry))).all()
    issued_entries = [e for e in entries if e.action == "invoice.issued"]
    assert [e.target_id for e in issued_entries] == [str(invoice["id"])]
    assert "Dana" not in str(issued_entries[0].detail)  # no patient data in the audit log


async def test_payments_settle_the_invoice_and_queue_receipts(api: FastAPI, db: Database):
    system: JobSystem = api.state.system
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, THREE_LENSES)
        url = f"/api/invoices/{invoice['id']}/payments"
        early = await client.post(url, json={"amount": "10", "method": "cash"})
        assert early.status_code == 409 and "issue it" in early.json()["detail"]
        assert (await client.post(f"/api/invoices/{invoice['id']}/issue")).status_code == 200
        first = await client.post(url, json={"amount": 50, "method": "card", "reference": "A1"})
        assert first.status_code == 201, first.text
        body = first.json()
        assert body["payment"]["amount"] == "50.00" and body["invoice"]["status"] == "issued"
        assert amounts(body["invoice"])[3:] == ("50.00", "69.99")
        assert (body["job"]["queue"], body["job"]["name"]) == ("pdf", "receipt")
        last = await client.post(url, json={"amount": "69.99", "method": "bank_transfer"})
        assert last.status_code == 201, last.text
        assert last.json()["invoice"]["status"] == "paid"
        assert amounts(last.json()["invoice"])[3:] == ("119.99", "0.00")
        paid = await client.post(url, json={"amount": "0.01", "method": "cash"})
        assert paid.status_code == 409 and "paid" in paid.json()["detail"]
        listed = (await client.get(url)).json()
        assert [(p["amount"], p["method"]) for p in listed] == [
            ("50.00", "card"), ("69.99", "bank_transfer"),
        ]  # fmt: skip
    await relayed(system)
    for recorded in (body, last.json()):
        job = await system.admin.get_job("pdf", recorded["job"]["job_id"])
        assert job.data == {"paymentId": recorded["payment"]["id"]}
    async with db.session() as session:
        actions = (await session.scalars(select(AuditEntry.action))).all()
    assert actions.count("invoice.payment_recorded") == 2


async def test_a_payment_over_the_balance_is_422_and_queues_nothing(api: FastAPI, db: Database):
    system: JobSystem = api.state.system
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, THREE_LENSES)
        assert (await client.post(f"/api/invoices/{invoice['id']}/issue")).status_code == 200
        await relayed(system)
        before = await outbox_rows(system)
        url = f"/api/invoices/{invoice['id']}/payments"
        response = await client.post(url, json={"amount": "120.00", "method": "card"})
        assert fields(response) == {"amount"}
        assert "balance due of 119.99" in response.text
        stored = (await client.get(f"/api/invoices/{invoice['id']}")).json()
        assert (stored["status"], stored["amount_paid"]) == ("issued", "0.00")
    assert await outbox_rows(system) == before
    assert system.producer.relay is not None
    assert await system.producer.relay.relay_pending() == 0
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Payment))).scalar() == 0
    with pytest.raises(JobNotFound):
        await system.admin.get_job("pdf", "receipt-that-never-was")


async def test_a_declined_payment_pays_nothing_and_records_its_event(api: FastAPI, db: Database):
    async with signed_in(api, Role.dispenser) as client:
        invoice = await create(client, THREE_LENSES)
        url = f"/api/invoices/{invoice['id']}/payments/failed"
        declined = {"amount": "50", "method": "card", "reason": "card declined"}
        draft = await client.post(url, json=declined)
        assert draft.status_code == 409 and "issue it" in draft.json()["detail"]
    async with signed_in(api, Role.company_admin) as admin:
        assert (await admin.post(f"/api/invoices/{invoice['id']}/issue")).status_code == 200
        for bad, field in (({**declined, "amount": "120"}, "amount"),
                           ({**declined, "reason": ""}, "reason"),
                           ({"amount": "5", "method": "card"}, "reason"),
                           ({**declined, "method": "gold"}, "method")):  # fmt: skip
            assert field in fields(await admin.post(url, json=bad))
        failed = await admin.post(url, json=declined)
        assert failed.status_code == 201, failed.text
        body = failed.json()
        assert (body["invoice"]["status"], body["invoice"]["amount_paid"]) == ("issued", "0.00")
        events = (await admin.get("/api/events", params={"type": "payment.failed"})).json()
    assert [(e["id"], e["data"]) for e in events["events"]] == [(body["event_id"], {
        "invoice_id": invoice["id"], "amount": "50.00", "reason": "card declined",
    })]  # fmt: skip
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Payment))).scalar() == 0
        entries = (await session.scalars(select(AuditEntry))).all()
    assert [e.detail["event_id"] for e in entries if e.action == "invoice.payment_failed"] == [
        body["event_id"]
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"amount": 0, "method": "cash"}, "amount"),
        ({"amount": "-5", "method": "cash"}, "amount"),
        ({"amount": "1.005", "method": "cash"}, "amount"),
        ({"amount": 10.001, "method": "cash"}, "amount"),
        ({"amount": "ten", "method": "cash"}, "amount"),
        ({"amount": "10", "method": "cheque"}, "method"),
        ({"amount": "10"}, "method"),
        ({"amount": "10", "method": "cash", "paid_at": "2999-01-01T00:00:00Z"}, "paid_at"),
        ({"amount": "10", "method": "cash", "tip": "1"}, "tip"),
    ],
)
async def test_bad_payments_are_422_naming_the_field(
    api: FastAPI, body: dict[str, Any], field: str
):
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, THREE_LENSES)
        assert (await client.post(f"/api/invoices/{invoice['id']}/issue")).status_code == 200
        response = await client.post(f"/api/invoices/{invoice['id']}/payments", json=body)
        assert field in fields(response)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"order_id": 1}, "lines"),
        ({"lines": None}, "lines"),
        ({"lines": []}, "lines"),
        ({"lines": [{"quantity": 1, "unit_price": "1"}]}, "lines.0.description"),
        ({"lines": [{"description": "Fitting"}]}, "lines.0.unit_price"),
        ({"lines": [{"description": "x", "unit_price": "1.999"}]}, "lines.0.unit_price"),
        ({"lines": [{"product_id": 999999}]}, "lines.0.product_id"),
        ({"tax_rate": "101"}, "tax_rate"),
        ({"tax_rate": "8.8755"}, "tax_rate"),
        ({"billing_name": None}, "billing_name"),
        ({"due_date": "soon"}, "due_date"),
    ],
)
async def test_bad_invoices_are_422_naming_the_field(
    api: FastAPI, change: dict[str, Any], field: str
):
    async with signed_in(api, Role.company_admin) as client:
        response = await client.post("/api/invoices", json=THREE_LENSES | change)
        assert field in fields(response)
        assert (await client.get("/api/invoices")).json()["total"] == 0


async def test_another_companys_invoices_are_404_and_its_ids_422_in_bodies(
    api: FastAPI, db: Database, accounts: Accounts
):
    system: JobSystem = api.state.system
    their_order = await add_order(db, accounts.company_b)
    their_product = await add_product(db, accounts.company_b)
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, THREE_LENSES)
        by_order = await client.post("/api/invoices", json={"order_id": their_order})
        assert fields(by_order) == {"order_id"}
        lines = {"billing_name": "X", "lines": [{"product_id": their_product}]}
        assert fields(await client.post("/api/invoices", json=lines)) == {"lines.0.product_id"}
    async with outsider_admin(api) as other:
        url = f"/api/invoices/{invoice['id']}"
        assert (await other.get(url)).status_code == 404
        assert (await other.post(f"{url}/issue")).status_code == 404
        assert (await other.get(f"{url}/payments")).status_code == 404
        paying = await other.post(f"{url}/payments", json={"amount": "1", "method": "cash"})
        assert paying.status_code == 404
        assert (await other.get("/api/invoices")).json()["total"] == 0
    async with signed_in(api, Role.company_admin) as client:
        assert (await client.get(url)).json()["status"] == "draft"
    assert await outbox_rows(system) == 0


async def test_two_payments_racing_never_take_more_than_the_total(api: FastAPI, db: Database):
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, THREE_LENSES)
        assert (await client.post(f"/api/invoices/{invoice['id']}/issue")).status_code == 200
        url = f"/api/invoices/{invoice['id']}/payments"
        pay = {"amount": "100.00", "method": "card"}
        responses = await asyncio.gather(client.post(url, json=pay), client.post(url, json=pay))
        codes = sorted(r.status_code for r in responses)
        # The loser sees the new balance (422), or on SQLite may find the database busy (503).
        assert codes[0] == 201 and codes[1] in (409, 422, 503), [r.text for r in responses]
        assert (await client.get(f"/api/invoices/{invoice['id']}")).json()[
            "amount_paid"
        ] == "100.00"
    async with db.session() as session:
        assert (await session.execute(select(func.count()).select_from(Payment))).scalar() == 1


async def test_a_payment_rolled_back_after_its_enqueue_leaves_no_job(api: FastAPI, db: Database):
    system: JobSystem = api.state.system
    async with signed_in(api, Role.company_admin) as client:
        invoice = await create(client, THREE_LENSES)
        assert (await client.post(f"/api/invoices/{invoice['id']}/issue")).status_code == 200
    await relayed(system)
    before = await outbox_rows(system)
    with pytest.raises(RuntimeError):
        async with system.database.session() as session:
            row = await session.get(Invoice, invoice["id"])
            assert row is not None
            data = PaymentCreate(amount=Decimal("10.00"), method=PaymentMethod.cash)
            _, job = await billing.record_payment(session, row, data)
            raise RuntimeError("the request failed after the receipt was enqueued")
    assert await outbox_rows(system) == before
    assert system.producer.relay is not None
    assert await system.producer.relay.relay_pending() == 0
    with pytest.raises(JobNotFound):
        await system.admin.get_job("pdf", job.job_id)
    async with db.session() as session:
        stored = await session.get(Invoice, invoice["id"])
        assert stored is not None and stored.amount_paid == Decimal("0.00")
