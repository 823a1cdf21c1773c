"""The world the route matrix runs in: one app, company A with a signed-in user per role, company B
with its own users, and factories that make each kind of object in either company.

Objects come from the API itself where it can make them (as an allowed user of their company),
from the services' tables where it cannot (notifications, documents, connections, outbox rows).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

import httpx
from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import (
    Company,
    CompanyKind,
    Document,
    DocumentEntity,
    DocumentType,
    Notification,
    NotificationType,
    OmaFile,
    Role,
)
from ils.domain.models.marketplace import MarketplaceConnection
from ils.domain.models.webhooks import WebhookDelivery
from ils.jobs import helpers
from ils.jobs.ai.demand import demand_forecast
from ils.jobs.notification.handlers import batch_summary
from ils.queue.flows import send_batch
from ils.queue.outbox_row import OutboxRow
from ils.queue.processing import Failure
from ils.queue.producer import EnqueueOptions
from tests.web.conftest import PASSWORD, add_user, csrf_headers, login, make_client

Owner = Literal["own", "other"]
Params = dict[str, Any]

ORDER: dict[str, Any] = {
    "customer_name": "Dana Whitfield",
    "lines": [{"kind": "lens", "description": "SV 1.6 AR", "quantity": 2, "unit_price": "33.33"}],
    "rx": {"right": {"sphere": "-2.25"}, "left": {"sphere": "-2.00"}},
}
EXAM: dict[str, Any] = {"right": {"sphere": "-2.25"}, "left": {"sphere": "-2.00"}}
INVOICE: dict[str, Any] = {
    "billing_name": "Dana Whitfield",
    "lines": [{"description": "SV 1.60 lens", "quantity": 3, "unit_price": "33.33"}],
}
PDF = b"%PDF-1.4 route matrix\n%%EOF\n"
# Where a job's company is stamped in its data (the tenant isolation of the queue admin layer
# reads it); a row spooled here skips the producer that stamps it.
COMPANY_STAMP = "_ilsCompany"


def email(company: str, role: Role) -> str:
    return f"{role.value}@{company}.matrix.localhost"


@dataclass
class World:
    app: FastAPI
    db: Database
    company: dict[Owner, int]
    user_ids: dict[Role, int]
    other_user_id: int
    clients: dict[Role, httpx.AsyncClient]
    # company B's users that make B's objects: an admin, an optometrist, a plain staff member
    other_clients: dict[Role, httpx.AsyncClient]
    anonymous: httpx.AsyncClient
    password_hash: str
    serial: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    # objects reused by calls that must fail anyway, by (factory, company, role)
    objects: dict[tuple[str, Owner, Role], Params] = field(default_factory=dict)

    @property
    def system(self) -> JobSystem:
        system: JobSystem = self.app.state.system
        return system

    def maker(self, owner: Owner, role: Role = Role.company_admin) -> httpx.AsyncClient:
        """Who makes an object of ``owner``'s company (a user allowed to make it)."""
        return self.clients[role] if owner == "own" else self.other_clients[role]

    def next(self) -> int:
        return next(self.serial)


async def _created(response: httpx.Response) -> Any:
    assert response.status_code in (200, 201), response.text
    return response.json()


async def _signed_in(app: FastAPI, address: str) -> httpx.AsyncClient:
    client = make_client(app)
    response = await login(client, address, PASSWORD)
    assert response.status_code == 200, response.text
    client.headers.update(csrf_headers(client))
    return client


@contextlib.asynccontextmanager
async def build_world(app: FastAPI, db: Database, password_hash: str) -> AsyncIterator[World]:
    async with db.session() as s:
        a = Company(name="Clear Sight Opticians", slug="matrix-a", kind=CompanyKind.practice)
        b = Company(name="Prism Lens Lab", slug="matrix-b", kind=CompanyKind.lab)
        s.add_all([a, b])
        await s.flush()
        company: dict[Owner, int] = {"own": a.id, "other": b.id}
    user_ids = {
        role: await add_user(db, a.id, email("a", role), role, password_hash) for role in Role
    }
    others = (Role.company_admin, Role.optometrist, Role.staff)
    other_ids = {
        role: await add_user(db, b.id, email("b", role), role, password_hash) for role in others
    }
    # Argon2 checks are slow on purpose: every user signs in once, all at the same time.
    mine, theirs = await asyncio.gather(
        asyncio.gather(*(_signed_in(app, email("a", role)) for role in Role)),
        asyncio.gather(*(_signed_in(app, email("b", role)) for role in others)),
    )
    world = World(
        app=app,
        db=db,
        company=company,
        user_ids=user_ids,
        other_user_id=other_ids[Role.staff],
        clients=dict(zip(Role, mine, strict=True)),
        other_clients=dict(zip(others, theirs, strict=True)),
        anonymous=make_client(app),
        password_hash=password_hash,
    )
    try:
        yield world
    finally:
        for client in [*mine, *theirs, world.anonymous]:
            await client.aclose()


# ---- factories: each makes one fresh object and answers the path parameters naming it ---------

Factory = Callable[[World, Owner, Role], Awaitable[Params]]


async def order(w: World, owner: Owner, role: Role) -> Params:
    made = await _created(await w.maker(owner).post("/api/orders", json=ORDER))
    return {"order_id": made["order"]["id"]}


async def order_in_quality_check(w: World, owner: Owner, role: Role) -> Params:
    params = await order(w, owner, role)
    url = f"/api/orders/{params['order_id']}/status"
    for status in ("in_production", "quality_check"):
        await _created(await w.maker(owner).post(url, json={"status": status}))
    return params


async def patient(w: World, owner: Owner, role: Role) -> Params:
    body = {"first_name": "Femi", "last_name": f"Okafor {w.next()}"}
    return {
        "patient_id": (await _created(await w.maker(owner).post("/api/patients", json=body)))["id"]
    }


async def examination(w: World, owner: Owner, role: Role) -> Params:
    params = await patient(w, owner, role)
    url = f"/api/patients/{params['patient_id']}/examinations"
    made = await _created(await w.maker(owner, Role.optometrist).post(url, json=EXAM))
    return params | {"examination_id": made["id"]}


async def invoice(w: World, owner: Owner, role: Role) -> Params:
    return {
        "invoice_id": (await _created(await w.maker(owner).post("/api/invoices", json=INVOICE)))[
            "id"
        ]
    }


async def issued_invoice(w: World, owner: Owner, role: Role) -> Params:
    params = await invoice(w, owner, role)
    await _created(await w.maker(owner).post(f"/api/invoices/{params['invoice_id']}/issue"))
    return params


async def supplier(w: World, owner: Owner, role: Role) -> Params:
    body = {"name": f"Hoya {w.next()}", "email": "po@hoya.example.com"}
    return {
        "supplier_id": (await _created(await w.maker(owner).post("/api/suppliers", json=body)))[
            "id"
        ]
    }


def product_body(w: World, supplier_id: int | None = None) -> dict[str, Any]:
    n = w.next()
    body = {"sku": f"SV-{n}", "name": f"SV 1.60 #{n}", "kind": "lens", "price": "99.00"}
    return body | ({"supplier_id": supplier_id, "cost": "33.33"} if supplier_id else {})


async def product(w: World, owner: Owner, role: Role) -> Params:
    made = await _created(await w.maker(owner).post("/api/products", json=product_body(w)))
    return {"product_id": made["id"]}


async def purchase_order_body(w: World, owner: Owner) -> dict[str, Any]:
    supplier_id = (await supplier(w, owner, Role.company_admin))["supplier_id"]
    body = product_body(w, supplier_id)
    made = await _created(await w.maker(owner).post("/api/products", json=body))
    return {"supplier_id": supplier_id, "lines": [{"product_id": made["id"], "quantity": 3}]}


async def purchase_order(w: World, owner: Owner, role: Role) -> Params:
    body = await purchase_order_body(w, owner)
    made = await _created(await w.maker(owner).post("/api/purchase-orders", json=body))
    return {"purchase_order_id": made["id"]}


async def sent_purchase_order(w: World, owner: Owner, role: Role) -> Params:
    params = await purchase_order(w, owner, role)
    url = f"/api/purchase-orders/{params['purchase_order_id']}/send"
    await _created(await w.maker(owner).post(url))
    return params


async def new_company(w: World) -> int:
    async with w.db.session() as s:
        n = w.next()
        row = Company(name=f"Lab {n}", slug=f"matrix-lab-{n}", kind=CompanyKind.lab)
        s.add(row)
        await s.flush()
        return row.id


async def connection(w: World, owner: Owner, role: Role) -> Params:
    """A pending request from a new company to ``owner``'s company."""
    requester = await new_company(w)
    async with w.db.session() as s:
        row = MarketplaceConnection(
            requester_company_id=requester, target_company_id=w.company[owner]
        )
        s.add(row)
        await s.flush()
        return {"connection_id": row.id}


async def add_document(
    w: World, owner: Owner, doc_type: DocumentType, entity: DocumentEntity, entity_id: int
) -> int:
    """A generated document of ``owner``'s company with its file in storage."""
    n = w.next()
    key = f"{w.company[owner]}/{doc_type.value}/matrix-{n}.pdf"
    stored = w.system.files.put(key, PDF)
    async with w.db.session() as s:
        row = Document(
            company_id=w.company[owner], type=doc_type, entity=entity, entity_id=entity_id,
            path=key, filename=f"matrix-{n}.pdf", size=len(PDF), sha256=stored.sha256,
            job_id=f"matrix-doc-{n}",
        )  # fmt: skip
        s.add(row)
        await s.flush()
        return row.id


async def document(w: World, owner: Owner, role: Role) -> Params:
    """An order sheet (every role may read orders)."""
    order_id = (await order(w, owner, role))["order_id"]
    doc_id = await add_document(w, owner, DocumentType.order_sheet, DocumentEntity.order, order_id)
    return {"document_id": doc_id}


OMA = b"JOB=MATRIX\r\nSPH=-1.00;-1.25\r\n"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"/>'


async def traced_order(w: World, owner: Owner, role: Role) -> Params:
    """An order with a processed OMA file and its drawn trace in storage."""
    params = await order(w, owner, role)
    n, company_id = w.next(), w.company[owner]
    stored = w.system.files.put(f"{company_id}/oma/matrix-{n}.oma", OMA)
    svg = w.system.files.put(f"{company_id}/oma/matrix-{n}.svg", SVG)
    async with w.db.session() as s:
        s.add(OmaFile(
            company_id=company_id, order_id=params["order_id"], job_id=f"matrix-oma-{n}",
            job_ref="MATRIX", filename=f"matrix-{n}.oma", path=stored.key, size=stored.size,
            sha256=stored.sha256, status="valid", data={}, traces={}, issues=[],
            svg_path=svg.key,
        ))  # fmt: skip
    return params


async def notification(w: World, owner: Owner, role: Role) -> Params:
    """One of the acting user's own notifications, or one of company B's user."""
    user_id = w.user_ids[role] if owner == "own" else w.other_user_id
    async with w.db.session() as s:
        row = Notification(
            company_id=w.company[owner], user_id=user_id, type=NotificationType.system,
            title="Matrix", message="a notification",
        )  # fmt: skip
        s.add(row)
        await s.flush()
        return {"notification_id": row.id}


async def conversation(w: World, owner: Owner, role: Role) -> Params:
    """The acting user's own conversation, or one of company B's user."""
    client = w.clients[role] if owner == "own" else w.other_clients[Role.staff]
    made = await _created(await client.post("/api/ai/conversations", json={"title": "Matrix"}))
    return {"conversation_id": made["id"]}


async def api_token(w: World, owner: Owner, role: Role) -> Params:
    client = w.clients[role] if owner == "own" else w.other_clients[Role.staff]
    made = await _created(await client.post("/api/auth/tokens", json={"name": "matrix"}))
    return {"token_id": made["id"]}


async def auth_session(w: World, owner: Owner, role: Role) -> Params:
    """Another browser session of the acting user, or one of company B's user."""
    address = email("a", role) if owner == "own" else email("b", Role.staff)
    async with make_client(w.app) as client:
        assert (await login(client, address, PASSWORD)).status_code == 200
        listed = (await client.get("/api/auth/sessions")).json()
    return {"session_id": next(s["id"] for s in listed if s["current"])}


async def job(w: World, owner: Owner, role: Role) -> Params:
    """A delayed job of ``owner``'s company (its payload names the company)."""
    enqueued = await helpers.queue_demand_forecast.using(
        options=EnqueueOptions(delay_s=3600), producer=w.system.producer
    )(company_id=w.company[owner])
    return {"queue": "ai", "job_id": enqueued.job_id}


async def outbox_row(w: World, owner: Owner, role: Role) -> Params:
    """A job of ``owner``'s company still waiting in the outbox."""
    company = w.company[owner]
    payload = {"companyId": company, "horizonDays": 14, "productIds": None, COMPANY_STAMP: company}
    row = OutboxRow.new("ai", "demand-forecast", payload, {})
    await w.system.outbox.spool(row)
    return {"row_id": row.id}


async def batch(w: World, owner: Owner, role: Role) -> Params:
    """A batch of ``owner``'s company: a delayed demand forecast, a summary as its callback."""
    company = w.company[owner]
    jobs = [demand_forecast.step(company_id=company).using(EnqueueOptions(delay_s=3600))]
    callback = batch_summary.step(title="Matrix")
    sent = await send_batch(callback, jobs, company_id=company, producer=w.system.producer)
    return {"batch_id": sent.job_id}


async def resend_body(w: World) -> dict[str, Any]:
    """An issued invoice of the acting users' company, to resend."""
    return {"invoice_ids": [(await issued_invoice(w, "own", Role.admin))["invoice_id"]]}


async def schedule(w: World, owner: Owner, role: Role) -> Params:
    """A schedule of ``owner``'s company, made by its admin."""
    body = {"name": f"scan {w.next()}", "job_type": "nightly-anomaly-scan", "cron": "0 2 * * *"}
    return {
        "schedule_id": (await _created(await w.maker(owner).post("/api/schedules", json=body)))[
            "id"
        ]
    }


async def dead_letter(w: World, owner: Owner, role: Role) -> Params:
    """A dead letter of ``owner``'s company: a demand forecast that failed for good."""
    company = w.company[owner]
    failure = Failure("ai", "demand-forecast", f"matrix-{w.next()}", company,
                      {"companyId": company, "horizonDays": 14}, "model pool died",
                      "Traceback ...", 3, int(time.time() * 1000))  # fmt: skip
    dead, _ = await w.system.dead_letters.record(failure)
    return {"dead_letter_id": dead.id}


async def webhook_endpoint(w: World, owner: Owner, role: Role) -> Params:
    """A webhook endpoint of ``owner``'s company, added by its admin."""
    body = {"url": f"https://receiver{w.next()}.example/hook", "event_types": ["order.created"]}
    made = await _created(await w.maker(owner).post("/api/webhooks/endpoints", json=body))
    return {"endpoint_id": made["id"]}


async def webhook_delivery(w: World, owner: Owner, role: Role) -> Params:
    """A failed delivery attempt to a webhook endpoint of ``owner``'s company."""
    endpoint_id = (await webhook_endpoint(w, owner, role))["endpoint_id"]
    event = {
        "id": f"01MATRIX{w.next():018d}",
        "type": "order.created",
        "version": 1,
        "company_id": w.company[owner],
        "occurred_at": "2026-12-07T06:00:00Z",
        "data": {},
    }
    async with w.db.session() as s:
        row = WebhookDelivery(
            company_id=w.company[owner], endpoint_id=endpoint_id, event_id=event["id"],
            event_type="order.created", job_id=f"matrix-{w.next()}", attempt=1,
            max_attempts=15, envelope=event, status_code=500, error="HTTP 500", ok=False,
        )  # fmt: skip
        s.add(row)
        await s.flush()
        return {"delivery_id": row.id}


FACTORIES: dict[str, Factory] = {
    "order": order,
    "order_in_quality_check": order_in_quality_check,
    "traced_order": traced_order,
    "patient": patient,
    "examination": examination,
    "invoice": invoice,
    "issued_invoice": issued_invoice,
    "supplier": supplier,
    "product": product,
    "purchase_order": purchase_order,
    "sent_purchase_order": sent_purchase_order,
    "connection": connection,
    "document": document,
    "notification": notification,
    "conversation": conversation,
    "api_token": api_token,
    "auth_session": auth_session,
    "job": job,
    "outbox_row": outbox_row,
    "batch": batch,
    "schedule": schedule,
    "dead_letter": dead_letter,
    "webhook_endpoint": webhook_endpoint,
    "webhook_delivery": webhook_delivery,
}
