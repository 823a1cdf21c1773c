"""The events of the changes made through the domain services that record them last: an order's
details edited (``order.updated``), a user added (``user.created``), a role changed
(``user.role_changed``), a payment declined (``payment.failed``). For each, on SQLite and
PostgreSQL: the event exists iff the change committed (a failure injected after the change rolls
both back), its data passes its type's schema, and it belongs to the company that changed."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import CompanyKind, InvoiceStatus, OrderStatus, PaymentMethod, Role
from ils.domain.models import Company, Invoice, Order, User
from ils.domain.models.events import Event
from ils.domain.services import billing, orders, users
from ils.errors import Conflict, Invalid
from ils.events.catalog import schema_of
from ils.events.log import EventFilter, page

PASSWORD = "a long enough passphrase"


@dataclass(frozen=True)
class World:
    company_id: int
    other_id: int
    user_id: int
    order_id: int
    invoice_id: int


async def build(db: Database) -> World:
    async with db.session() as s:
        lab = Company(name="Lab A", slug="lab-a", kind=CompanyKind.lab)
        other = Company(name="Lab B", slug="lab-b", kind=CompanyKind.lab)
        s.add_all([lab, other])
        await s.flush()
        user = User(company_id=lab.id, email="tech@lab-a.example", name="Tess", role=Role.staff,
                    password_hash="x")  # fmt: skip
        order = Order(company_id=lab.id, number="ORD-1", customer_name="Femi Okafor",
                      status=OrderStatus.pending, tray_number="T-1")  # fmt: skip
        invoice = Invoice(company_id=lab.id, number="INV-1", status=InvoiceStatus.issued,
                          billing_name="Femi Okafor", subtotal=Decimal("100.00"),
                          total=Decimal("100.00"), issued_at=dt.datetime.now(dt.UTC))  # fmt: skip
        s.add_all([user, order, invoice])
        await s.flush()
        return World(lab.id, other.id, user.id, order.id, invoice.id)


async def edit_order(s: AsyncSession, w: World) -> None:
    order = await s.get(Order, w.order_id)
    assert order is not None
    changes = {"tray_number": "T-9", "due_date": dt.date(2027, 1, 5)}
    await orders.update_order(s, order, changes)


async def add_user(s: AsyncSession, w: World) -> None:
    company = await s.get(Company, w.company_id)
    assert company is not None
    spec = users.UserCreate(email="new@lab-a.example", name="Nia", role=Role.dispenser,
                            password=PASSWORD)  # fmt: skip
    await users.create_user(s, company, spec)


async def promote(s: AsyncSession, w: World) -> None:
    user = await s.get(User, w.user_id)
    assert user is not None
    await users.change_role(s, user, Role.company_admin)


async def decline(s: AsyncSession, w: World) -> None:
    invoice = await s.get(Invoice, w.invoice_id)
    assert invoice is not None
    failure = billing.PaymentFailure(amount=Decimal("40"), method=PaymentMethod.card,
                                     reason="card declined")  # fmt: skip
    await billing.record_failed_payment(s, invoice, failure)


async def changed(db: Database, w: World) -> dict[str, Any]:
    """What each change touches, read back: compared before and after."""
    async with db.session() as s:
        order = await s.get(Order, w.order_id)
        user = await s.get(User, w.user_id)
        invoice = await s.get(Invoice, w.invoice_id)
        assert order is not None and user is not None and invoice is not None
        count = await s.scalar(select(func.count()).select_from(User))
        return {"tray": order.tray_number, "due": order.due_date, "role": user.role,
                "users": count, "paid": (invoice.status, invoice.amount_paid)}  # fmt: skip


CHANGES: dict[str, tuple[Callable[[AsyncSession, World], Awaitable[None]], dict[str, Any]]] = {
    "order.updated": (edit_order, {
        "number": "ORD-1",
        "changes": {"tray_number": {"old": "T-1", "new": "T-9"},
                    "due_date": {"old": None, "new": "2027-01-05"}},
    }),
    "user.created": (add_user, {"email": "new@lab-a.example", "role": "dispenser"}),
    "user.role_changed": (promote, {"from_role": "staff", "to_role": "company_admin"}),
    "payment.failed": (decline, {"amount": "40.00", "reason": "card declined"}),
}  # fmt: skip


async def events_of(db: Database, company_id: int | None, kind: str) -> list[Event]:
    async with db.session() as s:
        found = await page(s, EventFilter(company_id=company_id, types=[kind]), limit=50)
    return found.events


@pytest.mark.parametrize("kind", sorted(CHANGES))
async def test_the_change_commits_with_its_event_in_its_company(
    db_system: JobSystem, db: Database, kind: str
):
    w = await build(db)
    make, expected = CHANGES[kind]
    before = await changed(db, w)
    async with db.session() as s:
        await make(s, w)
    # A declined payment pays nothing: its event is the record of the attempt.
    assert (await changed(db, w) != before) is (kind != "payment.failed")
    (event,) = await events_of(db, w.company_id, kind)
    assert event.company_id == w.company_id
    model = schema_of(kind, event.version)
    assert model is not None
    assert model.model_validate(event.data).model_dump(mode="json") == event.data
    assert {k: event.data[k] for k in expected} == expected
    assert await events_of(db, w.other_id, kind) == []


@pytest.mark.parametrize("kind", sorted(CHANGES))
async def test_a_failure_after_the_change_rolls_back_both(
    db_system: JobSystem, db: Database, kind: str
):
    w = await build(db)
    make, _ = CHANGES[kind]
    before = await changed(db, w)
    with pytest.raises(RuntimeError, match="injected"):
        async with db.session() as s:
            await make(s, w)
            await s.flush()
            raise RuntimeError("injected after the change and its event")
    assert await changed(db, w) == before
    assert await events_of(db, None, kind) == []


async def test_refused_changes_record_nothing(db_system: JobSystem, db: Database):
    """An edit of nothing or of a fixed field, a shipped order, a taken email, the platform admin
    role outside the platform, the same role again, a payment past the balance or on a paid
    invoice: typed errors (or, for the same role, no change), and no event."""
    w = await build(db)
    async with db.session() as s:
        order = await s.get(Order, w.order_id)
        user = await s.get(User, w.user_id)
        company = await s.get(Company, w.company_id)
        invoice = await s.get(Invoice, w.invoice_id)
        assert order and user and company and invoice
        with pytest.raises(Invalid, match="body"):
            await orders.update_order(s, order, {})
        with pytest.raises(Invalid, match="total"):
            await orders.update_order(s, order, {"total": Decimal(0)})
        await orders.update_order(s, order, {"tray_number": "T-1"})  # the same value: no event
        spec = users.UserCreate(email="TECH@lab-a.example", name="Dup", role=Role.staff,
                                password=PASSWORD)  # fmt: skip
        with pytest.raises(Conflict, match="exists"):
            await users.create_user(s, company, spec)
        boss = spec.model_copy(update={"email": "boss@lab-a.example", "role": Role.platform_admin})
        with pytest.raises(Invalid, match="platform"):
            await users.create_user(s, company, boss)
        await users.change_role(s, user, Role.staff)
        over = billing.PaymentFailure(amount=Decimal("100.01"), method=PaymentMethod.card,
                                      reason="card declined")  # fmt: skip
        with pytest.raises(Invalid, match="balance"):
            await billing.record_failed_payment(s, invoice, over)
        invoice.status = InvoiceStatus.paid
        with pytest.raises(Conflict, match="paid"):
            await billing.record_failed_payment(s, invoice, over)
        order.status = OrderStatus.shipped
        with pytest.raises(Conflict, match="final"):
            await orders.update_order(s, order, {"tray_number": "T-2"})
        await s.flush()
        assert await s.scalar(select(func.count()).select_from(Event)) == 0
