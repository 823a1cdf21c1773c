"""Every route of the API (OpenAPI schema plus WebSocket) by every role by own/other company,
each answering the status one declared table says: 403 for a role the table leaves out, 404 for
another company's object, 401 without credentials.

The table (``ROWS``) is written as a security reviewer reads it, not derived from the code: a
route the app serves without a row fails, and so does a row for a route the app no longer has.
One app and one set of accounts serve the whole module (SQLite); requests run in-process.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import pytest_asyncio
from fastapi import FastAPI
from fastapi.routing import APIWebSocketRoute
from starlette.routing import WebSocketRoute

from ils.bootstrap import JobSystem
from ils.domain.models import DocumentEntity, DocumentType, Role
from ils.settings import load_web_settings
from ils.web.app import create_app
from tests.conftest import delete_prefix, make_settings, probe_registry
from tests.support.databases import open_database
from tests.web.conftest import PASSWORD, add_user, login, make_client
from tests.web.route_matrix_world import (
    EXAM,
    FACTORIES,
    INVOICE,
    OMA,
    ORDER,
    Owner,
    Params,
    World,
    add_document,
    build_world,
    email,
    examination,
    invoice,
    issued_invoice,
    new_company,
    product_body,
    purchase_order_body,
    resend_body,
)

pytestmark = pytest.mark.asyncio(loop_scope="module")

P, A, CA = Role.platform_admin, Role.admin, Role.company_admin
OPT, DISP, LAB, STAFF = Role.optometrist, Role.dispenser, Role.lab_technician, Role.staff
EVERYONE = frozenset(Role)
ADMINS = frozenset({P, A, CA})
ONLY_PLATFORM = frozenset({P})

Body = dict[str, Any] | Callable[[World], Any] | None


@dataclass(frozen=True)
class Row:
    """One route: who may call it, what a successful call answers, what object its path names."""

    method: str
    path: str
    may: frozenset[Role]
    ok: int = 200
    target: str | None = None  # the factory making the object the path names, per company
    fixed: Params = field(default_factory=dict)  # path parameters that name no object
    body: Body = None
    files: dict[str, tuple[str, bytes, str]] | None = None  # a multipart upload instead
    platform_sees_all: bool = True  # False where rows belong to a user, not a company
    platform_other: int | None = None  # what platform_admin gets on another company's row
    anonymous: int = 401
    via: str = "http"  # "login", "logout": their own client; "asgi": streams and sockets


ROWS: tuple[Row, ...] = (
    # ---- accounts (every role, for itself) ----
    Row("POST", "/api/auth/login", EVERYONE, via="login"),
    Row("POST", "/api/auth/logout", EVERYONE, 204, anonymous=204, via="logout"),
    Row("GET", "/api/auth/me", EVERYONE),
    Row("POST", "/api/auth/password", EVERYONE, via="password"),
    Row("GET", "/api/auth/sessions", EVERYONE),
    Row("DELETE", "/api/auth/sessions/{session_id}", EVERYONE, 204, target="auth_session",
        platform_sees_all=False),
    Row("GET", "/api/auth/tokens", EVERYONE),
    Row("POST", "/api/auth/tokens", EVERYONE, 201, body={"name": "matrix"}),
    Row("DELETE", "/api/auth/tokens/{token_id}", EVERYONE, 204, target="api_token",
        platform_sees_all=False),
    # ---- orders: everyone reads and places them; the lab moves and ships them ----
    Row("POST", "/api/orders", EVERYONE, 201, body=ORDER),
    Row("GET", "/api/orders", EVERYONE),
    Row("GET", "/api/orders/{order_id}", EVERYONE, target="order"),
    Row("PATCH", "/api/orders/{order_id}/details", ADMINS | {LAB}, target="order",
        body={"tray_number": "T-12"}),
    Row("POST", "/api/orders/{order_id}/status", ADMINS | {LAB}, target="order",
        body={"status": "in_production"}),
    Row("POST", "/api/orders/{order_id}/ship", ADMINS | {LAB}, target="order_in_quality_check",
        body={"tracking_number": "1Z999AA10123456784", "carrier": "UPS"}),
    Row("GET", "/api/orders/{order_id}/documents", EVERYONE, target="order"),
    Row("GET", "/api/orders/{order_id}/history", EVERYONE, target="order"),
    Row("POST", "/api/orders/{order_id}/oma", EVERYONE, 202, target="order",
        files={"file": ("matrix.oma", OMA, "application/x-oma")}),
    Row("GET", "/api/orders/{order_id}/oma", EVERYONE, target="traced_order"),
    Row("GET", "/api/orders/{order_id}/oma/trace.svg", EVERYONE, target="traced_order"),
    # ---- patients and examinations: the lab sees neither; staff not the clinical record ----
    Row("GET", "/api/patients", ADMINS | {OPT, DISP, STAFF}),
    Row("POST", "/api/patients", ADMINS | {OPT, DISP, STAFF}, 201,
        body={"first_name": "Ada", "last_name": "Obi"}),
    Row("GET", "/api/patients/{patient_id}", ADMINS | {OPT, DISP, STAFF}, target="patient"),
    Row("PATCH", "/api/patients/{patient_id}", ADMINS | {OPT, DISP, STAFF}, target="patient",
        body={"phone": "0161 496 0000"}),
    Row("GET", "/api/patients/{patient_id}/examinations", ADMINS | {OPT, DISP},
        target="patient"),
    Row("POST", "/api/patients/{patient_id}/examinations", frozenset({OPT}), 201,
        target="patient", body=EXAM),
    Row("GET", "/api/examinations/{examination_id}", ADMINS | {OPT, DISP}, target="examination"),
    Row("POST", "/api/examinations/{examination_id}/pdf", ADMINS | {OPT, DISP}, 202,
        target="examination"),
    Row("GET", "/api/examinations/{examination_id}/documents", ADMINS | {OPT, DISP},
        target="examination"),
    # ---- catalogue: everyone reads; only admins set prices or add suppliers ----
    Row("GET", "/api/suppliers", EVERYONE),
    Row("POST", "/api/suppliers", ADMINS, 201, body=lambda w: {"name": f"Zeiss {w.next()}"}),
    Row("GET", "/api/suppliers/{supplier_id}", EVERYONE, target="supplier"),
    Row("PATCH", "/api/suppliers/{supplier_id}", ADMINS, target="supplier",
        body={"email": "orders@hoya.example.com"}),
    Row("GET", "/api/products", EVERYONE),
    Row("POST", "/api/products", ADMINS, 201, body=product_body),
    Row("GET", "/api/products/{product_id}", EVERYONE, target="product"),
    Row("PATCH", "/api/products/{product_id}", ADMINS, target="product", body={"price": "101.00"}),
    # ---- purchasing: the shop floor drafts and receives; admins commit the money ----
    Row("GET", "/api/purchase-orders", ADMINS | {DISP, LAB}),
    Row("POST", "/api/purchase-orders", ADMINS | {DISP, LAB}, 201,
        body=lambda w: purchase_order_body(w, "own")),
    Row("GET", "/api/purchase-orders/{purchase_order_id}", ADMINS | {DISP, LAB},
        target="purchase_order"),
    Row("POST", "/api/purchase-orders/{purchase_order_id}/send", ADMINS, target="purchase_order"),
    Row("POST", "/api/purchase-orders/{purchase_order_id}/receive", ADMINS | {DISP, LAB},
        target="sent_purchase_order"),
    # ---- billing: the counter drafts and takes payments; only admins issue ----
    Row("GET", "/api/invoices", ADMINS | {DISP, STAFF}),
    Row("POST", "/api/invoices", ADMINS | {DISP, STAFF}, 201, body=INVOICE),
    Row("GET", "/api/invoices/{invoice_id}", ADMINS | {DISP, STAFF}, target="invoice"),
    Row("POST", "/api/invoices/{invoice_id}/issue", ADMINS, target="invoice"),
    Row("POST", "/api/invoices/{invoice_id}/email", ADMINS, 202, target="issued_invoice",
        body={"to": ["billing@customer.example.com"]}),
    Row("POST", "/api/invoices/resend", ADMINS, 202, body=resend_body),
    Row("GET", "/api/invoices/{invoice_id}/payments", ADMINS | {DISP, STAFF}, target="invoice"),
    Row("POST", "/api/invoices/{invoice_id}/payments", ADMINS | {DISP, STAFF}, 201,
        target="issued_invoice", body={"amount": "1.00", "method": "cash"}),
    Row("POST", "/api/invoices/{invoice_id}/payments/failed", ADMINS | {DISP, STAFF}, 201,
        target="issued_invoice",
        body={"amount": "1.00", "method": "card", "reason": "card declined"}),
    Row("GET", "/api/invoices/{invoice_id}/documents", ADMINS | {DISP, STAFF}, target="invoice"),
    # ---- documents (an order sheet here; the per-type rule has its own test below) ----
    Row("GET", "/api/documents/{document_id}", EVERYONE, target="document"),
    # ---- marketplace: everyone sees the directory; admins connect ----
    Row("GET", "/api/marketplace/companies", EVERYONE),
    Row("GET", "/api/marketplace/connections", EVERYONE),
    Row("POST", "/api/marketplace/connections", ADMINS, 201,
        body=lambda w: _target_body(w)),
    # the platform admin sees every request, but only the company asked may answer it
    Row("POST", "/api/marketplace/connections/{connection_id}/accept", ADMINS,
        target="connection", platform_other=409),
    Row("POST", "/api/marketplace/connections/{connection_id}/reject", ADMINS,
        target="connection", platform_other=409),
    # ---- one's own notifications and conversations ----
    Row("GET", "/api/notifications", EVERYONE),
    Row("GET", "/api/notifications/unread-count", EVERYONE),
    Row("POST", "/api/notifications/{notification_id}/read", EVERYONE, target="notification",
        platform_sees_all=False),
    Row("POST", "/api/notifications/read-all", EVERYONE),
    Row("WS", "/ws", EVERYONE, 101, anonymous=1008, via="asgi"),
    Row("GET", "/api/ai/conversations", EVERYONE),
    Row("POST", "/api/ai/conversations", EVERYONE, 201, body={"title": "Matrix"}),
    Row("GET", "/api/ai/conversations/{conversation_id}", EVERYONE, target="conversation",
        platform_sees_all=False),
    Row("POST", "/api/ai/conversations/{conversation_id}/messages", EVERYONE, 202,
        target="conversation", platform_sees_all=False,
        body={"content": "How many orders today?"}),
    Row("GET", "/api/ai/forecasts/products/{product_id}", ADMINS | {DISP, LAB}, target="product"),
    Row("GET", "/api/ai/reorders", ADMINS | {DISP, LAB}),
    # one's own company's level: the route takes no company, so another's cannot be named
    Row("GET", "/api/ai/settings", ADMINS | {DISP, LAB}),
    Row("PUT", "/api/ai/settings", ADMINS, body={"service_level": 0.95}),
    # ---- the queue admin API: admins see their company's jobs; queue-wide acts are the
    # platform's ----
    Row("GET", "/api/queue/stats", ADMINS),
    Row("GET", "/api/queue/health", ADMINS),
    Row("GET", "/api/queue/info", ADMINS),
    Row("GET", "/api/queue/workers", ADMINS),
    Row("GET", "/api/queue/throughput", ADMINS),
    Row("GET", "/api/queue/schedules", ADMINS),
    Row("GET", "/api/queue/events", ADMINS, via="asgi"),
    Row("GET", "/api/queue/{queue}/jobs", ADMINS, fixed={"queue": "ai"}),
    Row("GET", "/api/queue/{queue}/jobs/{job_id}", ADMINS, target="job"),
    Row("GET", "/api/queue/{queue}/jobs/{job_id}/flow", ADMINS, target="job"),
    Row("DELETE", "/api/queue/{queue}/jobs/{job_id}", ADMINS, target="job"),
    Row("POST", "/api/queue/{queue}/jobs/{job_id}/{action}", ADMINS, target="job",
        fixed={"action": "promote"}),
    Row("POST", "/api/queue/{queue}/retry-failed", ADMINS, fixed={"queue": "ai"}),
    Row("POST", "/api/queue/{queue}/clean", ONLY_PLATFORM, fixed={"queue": "ai"},
        body={"state": "completed", "older_than_s": 86_400}),
    Row("POST", "/api/queue/{queue}/{action}", ONLY_PLATFORM,
        fixed={"queue": "ai", "action": "resume"}),
    Row("GET", "/api/queue/{queue}/overrides", ADMINS, fixed={"queue": "ai"}),
    Row("PUT", "/api/queue/{queue}/rate-limit", ONLY_PLATFORM, fixed={"queue": "ai"},
        body={"max": 50, "duration_ms": 1000}),
    Row("PUT", "/api/queue/{queue}/concurrency", ONLY_PLATFORM, fixed={"queue": "ai"},
        body={"concurrency": 2}),
    Row("DELETE", "/api/queue/{queue}/{setting}", ONLY_PLATFORM,
        fixed={"queue": "ai", "setting": "rate-limit"}),
    Row("GET", "/api/queue/outbox", ADMINS),
    Row("POST", "/api/queue/outbox/relay", ONLY_PLATFORM),  # relays every company's rows
    Row("DELETE", "/api/queue/outbox/{row_id}", ADMINS, target="outbox_row"),
    # ---- batches: a company's admins follow its own; every company's briefings are the
    # platform's ----
    Row("GET", "/api/batches/{batch_id}", ADMINS, target="batch"),
    Row("POST", "/api/batches/daily-briefings", ONLY_PLATFORM, 202),
    # ---- schedules: admins keep their company's; platform admins every company's and the
    # platform's own ----
    Row("GET", "/api/schedules", ADMINS),
    Row("POST", "/api/schedules", ADMINS, 201, body=lambda w: _schedule_body(w)),
    Row("GET", "/api/schedules/{schedule_id}", ADMINS, target="schedule"),
    Row("PATCH", "/api/schedules/{schedule_id}", ADMINS, target="schedule",
        body={"cron": "0 4 * * *"}),
    Row("DELETE", "/api/schedules/{schedule_id}", ADMINS, 204, target="schedule"),
    Row("POST", "/api/schedules/{schedule_id}/run-now", ADMINS, 202, target="schedule"),
    Row("POST", "/api/schedules/{schedule_id}/{action}", ADMINS, target="schedule",
        fixed={"action": "pause"}),
    Row("GET", "/api/queue/dead-letters", ADMINS),
    Row("GET", "/api/queue/dead-letters/{dead_letter_id}", ADMINS, target="dead_letter"),
    Row("POST", "/api/queue/dead-letters/{dead_letter_id}/replay", ADMINS,
        target="dead_letter"),
    Row("DELETE", "/api/queue/dead-letters/{dead_letter_id}", ADMINS, target="dead_letter"),
    # each id not the caller's is reported in the answer ("no dead letter n"), not a 404
    Row("POST", "/api/queue/dead-letters/replay", ADMINS, body={"ids": [1]}),
    # ---- webhooks: admins keep their company's endpoints; platform admins every company's ----
    Row("GET", "/api/webhooks/event-types", ADMINS),
    Row("GET", "/api/webhooks/endpoints", ADMINS),
    Row("POST", "/api/webhooks/endpoints", ADMINS, 201,
        body={"url": "https://receiver.example/hook", "event_types": ["order.shipped"]}),
    Row("GET", "/api/webhooks/endpoints/{endpoint_id}", ADMINS, target="webhook_endpoint"),
    Row("PATCH", "/api/webhooks/endpoints/{endpoint_id}", ADMINS, target="webhook_endpoint",
        body={"description": "lab system"}),
    Row("DELETE", "/api/webhooks/endpoints/{endpoint_id}", ADMINS, 204,
        target="webhook_endpoint"),
    Row("POST", "/api/webhooks/endpoints/{endpoint_id}/rotate-secret", ADMINS,
        target="webhook_endpoint"),
    Row("POST", "/api/webhooks/endpoints/{endpoint_id}/enable", ADMINS,
        target="webhook_endpoint"),
    Row("POST", "/api/webhooks/endpoints/{endpoint_id}/test", ADMINS, 202,
        target="webhook_endpoint"),
    Row("GET", "/api/webhooks/endpoints/{endpoint_id}/deliveries", ADMINS,
        target="webhook_endpoint"),
    Row("POST", "/api/webhooks/deliveries/{delivery_id}/retry", ADMINS, 202,
        target="webhook_delivery"),
    Row("GET", "/api/audit", ONLY_PLATFORM),
    # ---- the event log: admins read their company's; replay to a subscriber is the platform's
    Row("GET", "/api/events/types", ADMINS),
    Row("GET", "/api/events", ADMINS),
    Row("POST", "/api/events/replay", ONLY_PLATFORM,
        body={"subscriber": "live", "since": "2026-01-01T00:00:00Z",
              "until": "2026-01-02T00:00:00Z", "dry_run": True}),
    # ---- operations: not a role's matter (the metrics answer loopback or their token) ----
    Row("GET", "/metrics", EVERYONE, anonymous=200),
    Row("GET", "/healthz", EVERYONE, anonymous=200),
    Row("GET", "/readyz", EVERYONE, anonymous=200),
)  # fmt: skip


def _schedule_body(w: World) -> dict[str, Any]:
    # Company A's: every role of the matrix (platform_admin too) signs in as one of A's users.
    return {"name": f"scan {w.next()}", "job_type": "nightly-anomaly-scan", "cron": "0 2 * * *",
            "company_id": w.company["own"]}  # fmt: skip


async def _target_body(w: World) -> dict[str, Any]:
    return {"target_company_id": await new_company(w)}


def expected(row: Row, role: Role | None, owner: Owner) -> int:
    if role is None:
        return row.anonymous
    if role not in row.may:
        return 403
    if owner == "other" and role is P and row.platform_other is not None:
        return row.platform_other
    if owner == "other" and not (role is P and row.platform_sees_all):
        return 404
    return row.ok


def _cases() -> list[Any]:
    cases = []
    for row in ROWS:
        owners: tuple[Owner, ...] = ("own", "other") if row.target else ("own",)
        for role in (*Role, None):
            for owner in owners:
                name = f"{row.method} {row.path} {role.value if role else 'anonymous'} {owner}"
                cases.append(pytest.param(row, role, owner, id=name))
    return cases


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def world(
    redis_url: str, tmp_path_factory: pytest.TempPathFactory, password_hash: str
) -> AsyncIterator[World]:
    tmp = tmp_path_factory.mktemp("matrix")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    settings = make_settings(redis_url, prefix, tmp)
    try:
        async for db in open_database("sqlite", tmp):
            system = JobSystem(settings, registry=probe_registry(), database=db)
            # the outbox rows the matrix spools wait for its requests, not for the 2 s sweep
            system.relay.interval_s = 3600.0
            # The world signs its fourteen users in at once (Argon2 each): admission control
            # would rightly refuse some of them; it has its own tests (test_admission.py). Its
            # company admins issue an invoice for every payment route's call, past the PDF
            # quota's 30 a minute; quotas have their own tests (test_quotas.py).
            web = load_web_settings(
                {"ILS_WEB_MAX_INFLIGHT": "none", "ILS_QUOTA_PDF_USER": "none",
                 "ILS_QUOTA_PDF_COMPANY": "none"},
                tmp / "var",
            )  # fmt: skip
            app = create_app(system, run_workers=False, web_settings=web)
            async with app.router.lifespan_context(app), build_world(app, db, password_hash) as w:
                yield w
    finally:
        delete_prefix(redis_url, prefix)


async def _path(world: World, row: Row, role: Role | None, owner: Owner, fresh: bool) -> str:
    params: Params = dict(row.fixed)
    if row.target:
        maker_role = role or STAFF
        key = (row.target, owner, maker_role)
        if fresh or key not in world.objects:
            world.objects[key] = await FACTORIES[row.target](world, owner, maker_role)
        params |= world.objects[key]
    return row.path.format(**params)


async def _body(world: World, row: Row) -> Any:
    if callable(row.body):
        made = row.body(world)
        return await made if asyncio.iscoroutine(made) else made
    return row.body


async def _asgi_status(app: FastAPI, row: Row, path: str, cookies: httpx.Cookies | None) -> int:
    """The first answer of a stream or socket (its status, 101 for an accepted socket, or the
    close code), then a disconnect: these never end by themselves."""
    headers = [(b"host", b"localhost"), (b"origin", b"http://localhost")]
    if cookies:
        jar = "; ".join(f"{k}={v}" for k, v in cookies.items())
        headers.append((b"cookie", jar.encode()))
    kind = "websocket" if row.method == "WS" else "http"
    scope: dict[str, Any] = {
        "type": kind, "path": path, "raw_path": path.encode(), "query_string": b"",
        "headers": headers, "client": ("127.0.0.1", 40000), "server": ("localhost", 80),
        "scheme": "ws" if kind == "websocket" else "http", "root_path": "",
        "http_version": "1.1", "method": row.method, "subprotocols": [], "state": {},
        "app": app,
    }  # fmt: skip
    first: asyncio.Future[int] = asyncio.get_running_loop().create_future()
    connected = False

    async def receive() -> dict[str, Any]:
        nonlocal connected
        if not connected:
            connected = True
            if kind == "websocket":
                return {"type": "websocket.connect"}
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.shield(first)
        return {"type": f"{kind}.disconnect", "code": 1000}

    async def send(message: dict[str, Any]) -> None:
        kinds = {"http.response.start": "status", "websocket.http.response.start": "status"}
        if first.done():
            return
        if message["type"] in kinds:
            first.set_result(message["status"])
        elif message["type"] == "websocket.accept":
            first.set_result(101)
        elif message["type"] == "websocket.close":
            first.set_result(message.get("code", 1000))

    task = asyncio.ensure_future(app(scope, receive, send))
    try:
        return await asyncio.wait_for(asyncio.shield(first), 10)
    finally:
        try:
            await asyncio.wait_for(task, 10)
        except (TimeoutError, asyncio.CancelledError):
            task.cancel()
            with contextlib.suppress(BaseException):
                await task


async def _call(world: World, row: Row, role: Role | None, owner: Owner, fresh: bool) -> int:
    path = await _path(world, row, role, owner, fresh)
    client = world.clients[role] if role else world.anonymous
    if row.via == "login":
        async with make_client(world.app) as fresh_client:
            address = email("a", role) if role else email("a", STAFF)
            secret = PASSWORD if role else "not the password"
            return (await login(fresh_client, address, secret)).status_code
    if row.via == "logout":
        if role is None:
            return (await world.anonymous.post(path)).status_code
        async with make_client(world.app) as session:
            assert (await login(session, email("a", role))).status_code == 200
            token = {"X-CSRF-Token": session.cookies["ils_csrf"]}
            return (await session.post(path, headers=token)).status_code
    if row.via == "password":
        # a user of its own: a password change ends every other session of the user
        async with make_client(world.app) as session:
            if role is not None:
                address = f"pw{world.next()}-{role.value}@a.matrix.localhost"
                await add_user(world.db, world.company["own"], address, role, world.password_hash)
                assert (await login(session, address)).status_code == 200
                session.headers["X-CSRF-Token"] = session.cookies["ils_csrf"]
            change = {"old_password": PASSWORD, "new_password": "a brand new horse battery"}
            return (await session.post(path, json=change)).status_code
    if row.via == "asgi":
        return await _asgi_status(world.app, row, path, client.cookies if role else None)
    body = await _body(world, row)
    response = await client.request(row.method, path, json=body, files=row.files)
    return response.status_code


@pytest.mark.parametrize(("row", "role", "owner"), _cases())
async def test_every_route_answers_each_role_and_company_as_declared(
    world: World, row: Row, role: Role | None, owner: Owner
):
    want = expected(row, role, owner)
    # a call that succeeds gets an object of its own: an earlier call may have moved or removed
    # the shared one
    got = await _call(world, row, role, owner, fresh=want < 300)
    assert got == want, f"{row.method} {row.path} as {role} ({owner} company): {got}, want {want}"


def _served(app: FastAPI) -> set[tuple[str, str]]:
    routes = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    return routes | {("WS", path) for path in _socket_paths(app.routes)}


def _socket_paths(routes: Any, prefix: str = "") -> Iterator[str]:
    """WebSocket routes are not in the OpenAPI schema; included routers nest theirs."""
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _socket_paths(inner.routes, prefix + route.include_context.prefix)
        elif isinstance(route, (APIWebSocketRoute, WebSocketRoute)):
            yield prefix + route.path


async def test_the_table_has_a_row_for_every_route_and_no_row_for_a_route_gone(world: World):
    declared = [(row.method, row.path) for row in ROWS]
    assert len(declared) == len(set(declared)), "a route has two rows"
    served = _served(world.app)
    assert sorted(served - set(declared)) == [], "routes without a row in ROWS"
    assert sorted(set(declared) - served) == [], "rows for routes the app no longer serves"


# What each kind of document needs, written out here as the reviewer reads the rule.
DOCUMENT_READERS = {
    DocumentType.order_sheet: EVERYONE,
    DocumentType.invoice: ADMINS | {DISP, STAFF},
    DocumentType.receipt: ADMINS | {DISP, STAFF},
    DocumentType.examination_form: ADMINS | {OPT, DISP},
}


@pytest.mark.parametrize("doc_type", list(DOCUMENT_READERS), ids=lambda t: t.value)
async def test_a_document_is_as_private_as_the_row_it_shows(world: World, doc_type: DocumentType):
    if doc_type is DocumentType.examination_form:
        row = DocumentEntity.examination, (await examination(world, "own", OPT))["examination_id"]
    elif doc_type is DocumentType.order_sheet:
        row = DocumentEntity.order, (await FACTORIES["order"](world, "own", OPT))["order_id"]
    elif doc_type is DocumentType.invoice:
        row = DocumentEntity.invoice, (await invoice(world, "own", CA))["invoice_id"]
    else:
        paid = (await issued_invoice(world, "own", CA))["invoice_id"]
        url = f"/api/invoices/{paid}/payments"
        payment = await world.clients[CA].post(url, json={"amount": "1.00", "method": "cash"})
        row = DocumentEntity.payment, payment.json()["payment"]["id"]
    doc_id = await add_document(world, "own", doc_type, *row)
    got = {
        role: (await world.clients[role].get(f"/api/documents/{doc_id}")).status_code
        for role in Role
    }
    assert got == {role: 200 if role in DOCUMENT_READERS[doc_type] else 403 for role in Role}
