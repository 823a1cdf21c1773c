"""The domain models on SQLite and PostgreSQL: exact money and Rx values, order status rules,
uniqueness, CHECK constraints, cascades, and job-keyed rows stored once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError, StatementError
from sqlalchemy.ext.asyncio import AsyncSession

import ils.domain.models as models
from ils.domain.base import Base
from ils.domain.db import Database
from ils.domain.models import (
    TRANSITIONS,
    AiResult,
    AiResultKind,
    Company,
    CompanyKind,
    ConnectionStatus,
    Examination,
    Eye,
    InvalidStatusTransition,
    Invoice,
    LineKind,
    MarketplaceConnection,
    Notification,
    NotificationType,
    Order,
    OrderLine,
    OrderStatus,
    Patient,
    PrismBase,
    Product,
    ProductKind,
    Role,
    User,
    order_number,
)

NOW = dt.datetime(2025, 3, 14, 10, 30, tzinfo=dt.UTC)


async def company(s: AsyncSession, slug: str = "brightview") -> Company:
    row = Company(name=slug.title(), slug=slug, kind=CompanyKind.practice)
    s.add(row)
    await s.flush()
    return row


async def user(s: AsyncSession, company_id: int, role: Role = Role.optometrist) -> User:
    row = User(company_id=company_id, email=f"{role}@{company_id}.example", name="Ann",
               password_hash="x", role=role)  # fmt: skip
    s.add(row)
    await s.flush()
    return row


def new_order(company_id: int, sequence: int = 1, **fields: object) -> Order:
    return Order(company_id=company_id, number=order_number(sequence),
                 customer_name="Walk-in customer", **fields)  # fmt: skip


def test_every_model_module_is_in_the_metadata():
    expected = {
        "companies", "users", "api_tokens", "auth_sessions", "audit_log", "patients",
        "examinations",
        "suppliers", "products", "orders", "order_lines", "purchase_orders",
        "purchase_order_lines", "invoices", "invoice_lines", "payments",
        "marketplace_connections", "notifications", "ai_conversations", "ai_messages",
        "ai_results", "email_log", "documents", "schedules", "oma_files", "events",
        "event_cursors", "webhook_endpoints", "webhook_deliveries",
    }  # fmt: skip
    assert set(Base.metadata.tables) == expected
    assert {name for name in models.__all__ if not hasattr(models, name)} == set()


async def test_money_round_trips_exactly(db: Database):
    async with db.session() as s:
        c = await company(s)
        s.add_all([
            Product(company_id=c.id, sku="LEN-1", name="Big", kind=ProductKind.lens,
                    price=Decimal("1234567.89"), cost=Decimal("0.10")),
            Product(company_id=c.id, sku="LEN-2", name="Small", kind=ProductKind.lens,
                    price=Decimal("0.20"), cost=Decimal("0.20")),
        ])  # fmt: skip
    async with db.session() as s:
        big = (await s.execute(select(Product).where(Product.sku == "LEN-1"))).scalar_one()
        assert big.price == Decimal("1234567.89")
        assert isinstance(big.price, Decimal)
        assert str(big.price) == "1234567.89"
        total_cost = await s.scalar(select(func.sum(Product.cost)))
        assert total_cost == Decimal("0.30")
        assert str(total_cost) == "0.30"
        total_price = await s.scalar(select(func.sum(Product.price)))
        assert total_price == Decimal("1234568.09")


async def test_rx_values_round_trip_exactly(db: Database):
    async with db.session() as s:
        c = await company(s)
        optometrist = await user(s, c.id)
        patient = Patient(company_id=c.id, first_name="Ada", last_name="Byron",
                          date_of_birth=dt.date(1980, 12, 10))  # fmt: skip
        s.add(patient)
        await s.flush()
        s.add(Examination(
            company_id=c.id, patient_id=patient.id, examiner_user_id=optometrist.id,
            examined_at=NOW, right_sphere=Decimal("-2.25"), right_cylinder=Decimal("-0.75"),
            right_axis=180, right_add=Decimal("2.50"), right_prism=Decimal("0.50"),
            right_prism_base=PrismBase.in_, left_sphere=Decimal("+1.00"), left_axis=0,
            right_va="6/6", left_va="6/7.5", pd_right=Decimal("31.5"), pd_left=Decimal("32.25"),
            recall_due=dt.date(2027, 3, 14),
        ))  # fmt: skip
    async with db.session() as s:
        exam = (await s.execute(select(Examination))).scalar_one()
        assert (exam.right_sphere, exam.right_cylinder) == (Decimal("-2.25"), Decimal("-0.75"))
        assert str(exam.right_add) == "2.50"
        assert str(exam.left_sphere) == "1.00"
        assert exam.left_cylinder is None
        assert (exam.right_axis, exam.left_axis) == (180, 0)
        assert exam.right_prism_base is PrismBase.in_
        assert (str(exam.pd_right), str(exam.pd_left)) == ("31.50", "32.25")
        assert exam.pd_right + exam.pd_left == Decimal("63.75")
        assert exam.examined_at == NOW
        raw = (await s.execute(text("select right_prism_base from examinations"))).scalar_one()
        assert raw == "in"  # enums are stored as their values


async def test_a_value_too_large_for_its_column_is_refused_on_both(db: Database):
    with pytest.raises(StatementError, match=r"does not fit NUMERIC\(5, 2\)"):
        async with db.session() as s:
            c = await company(s)
            s.add(new_order(c.id, right_sphere=Decimal("1000.00")))


def test_order_transitions_follow_the_lifecycle():
    order = Order(status=OrderStatus.pending)
    assert order.can_transition(OrderStatus.in_production)
    assert order.can_transition(OrderStatus.cancelled)
    assert not order.can_transition(OrderStatus.shipped)
    for status in (OrderStatus.in_production, OrderStatus.quality_check):
        order.transition(status)
    order.transition(OrderStatus.shipped, at=NOW)
    assert order.shipped_at == NOW
    with pytest.raises(InvalidStatusTransition, match="from shipped to cancelled"):
        order.transition(OrderStatus.cancelled)
    order.transition(OrderStatus.delivered, at=NOW + dt.timedelta(days=2))
    assert order.delivered_at == NOW + dt.timedelta(days=2)
    assert TRANSITIONS[OrderStatus.delivered] == TRANSITIONS[OrderStatus.cancelled] == set()
    # A failed quality check goes back to production.
    assert OrderStatus.in_production in TRANSITIONS[OrderStatus.quality_check]
    # Every status is reachable from pending.
    seen, todo = {OrderStatus.pending}, [OrderStatus.pending]
    while todo:
        for nxt in TRANSITIONS[todo.pop()] - seen:
            seen.add(nxt)
            todo.append(nxt)
    assert seen == set(OrderStatus)


async def test_an_order_with_lines_persists_its_status_totals_and_timestamps(db: Database):
    async with db.session() as s:
        c = await company(s)
        order = new_order(c.id, status=OrderStatus.pending)
        order.lines = [
            OrderLine(kind=LineKind.lens, description="Progressive 1.67", quantity=2,
                      unit_price=Decimal("99.95"), line_total=Decimal("199.90"), eye=Eye.both),
            OrderLine(kind=LineKind.service, description="Fitting", quantity=1,
                      unit_price=Decimal("0.10"), line_total=Decimal("0.10")),
        ]  # fmt: skip
        order.recompute_totals(Decimal("20.000"))
        s.add(order)
    assert (order.subtotal, order.tax, order.total) == (
        Decimal("200.00"), Decimal("40.00"), Decimal("240.00"),
    )  # fmt: skip
    async with db.session() as s:
        loaded = (await s.execute(select(Order))).scalar_one()
        assert [line.eye for line in loaded.lines] == [Eye.both, None]
        assert loaded.total == Decimal("240.00")
        loaded.transition(OrderStatus.in_production)
        first_update = loaded.updated_at
    async with db.session() as s:
        again = (await s.execute(select(Order))).scalar_one()
        assert again.status is OrderStatus.in_production
        assert again.updated_at >= first_update
        assert again.created_at.tzinfo is not None


async def test_order_numbers_are_unique_per_company(db: Database):
    async with db.session() as s:
        a, b = await company(s, "a"), await company(s, "b")
        s.add_all([new_order(a.id, 1), new_order(b.id, 1)])  # same number, two companies
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            s.add(new_order(a.id, 1))
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(Order)) == 2


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        ("line", {"quantity": 0}),
        ("line", {"unit_price": Decimal("-0.01")}),
        ("order", {"right_axis": 181}),
        ("order", {"left_add": Decimal("-0.25")}),
        ("order", {"pd_binocular": Decimal("0")}),
        ("product", {"price": Decimal("-1.00")}),
        ("product", {"stock": -1}),
    ],
)
async def test_check_constraints_refuse_bad_values(db: Database, model: str, fields: dict):
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            c = await company(s)
            if model == "product":
                base = {"company_id": c.id, "sku": "X", "name": "X", "kind": ProductKind.frame}
                s.add(Product(**{**base, "price": Decimal(1), **fields}))
            elif model == "order":
                s.add(new_order(c.id, **fields))
            else:
                order = new_order(c.id)
                order.lines = [OrderLine(**{"kind": LineKind.frame, "description": "Frame",
                                            "quantity": 1, "unit_price": Decimal(10),
                                            "line_total": Decimal(10), **fields})]  # fmt: skip
                s.add(order)


async def test_deleting_an_order_deletes_its_lines_and_unlinks_invoices(db: Database):
    async with db.session() as s:
        c = await company(s)
        patient = Patient(company_id=c.id, first_name="Ada", last_name="Byron")
        s.add(patient)
        await s.flush()
        order = new_order(c.id, patient_id=patient.id)
        order.lines = [OrderLine(kind=LineKind.frame, description="Frame", quantity=1,
                                 unit_price=Decimal(5), line_total=Decimal(5))]  # fmt: skip
        s.add(order)
        await s.flush()
        s.add(Invoice(company_id=c.id, order_id=order.id, number="INV-000001",
                      billing_name="Ada Byron", total=Decimal("5.00")))  # fmt: skip
    async with db.session() as s:
        await s.execute(delete(Patient))  # the order keeps its history without the patient
        assert (await s.execute(select(Order.patient_id))).scalar_one() is None
        await s.execute(delete(Order))  # a database-level delete: ON DELETE CASCADE / SET NULL
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(OrderLine)) == 0
        invoice = (await s.execute(select(Invoice))).scalar_one()
        assert invoice.order_id is None
        assert invoice.balance_due == Decimal("5.00")


async def test_a_job_stores_its_notification_once(db: Database):
    async with db.session() as s:
        c = await company(s)
        u = await user(s, c.id)
        s.add(Notification(company_id=c.id, user_id=u.id, type=NotificationType.ai_insight,
                           title="Demand up", message="Up 12 %", job_id="job-1"))  # fmt: skip
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            s.add(Notification(company_id=c.id, user_id=u.id, type=NotificationType.ai_insight,
                               title="Demand up", message="again", job_id="job-1"))  # fmt: skip
    async with db.session() as s:
        note = (await s.execute(select(Notification))).scalar_one()
        assert note.type is NotificationType.ai_insight
        assert note.read_at is None
        raw = (await s.execute(text("select type, priority from notifications"))).one()
        assert tuple(raw) == ("ai-insight", "medium")


async def test_marketplace_connections_are_one_per_pair_and_never_to_oneself(db: Database):
    async with db.session() as s:
        a, b = await company(s, "a"), await company(s, "b")
        s.add(MarketplaceConnection(requester_company_id=a.id, target_company_id=b.id))
    for requester, target in ((a.id, b.id), (a.id, a.id)):
        with pytest.raises(IntegrityError):
            async with db.session() as s:
                s.add(MarketplaceConnection(
                    requester_company_id=requester, target_company_id=target
                ))  # fmt: skip
    async with db.session() as s:
        s.add(MarketplaceConnection(requester_company_id=b.id, target_company_id=a.id,
                                    status=ConnectionStatus.accepted))  # fmt: skip
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(MarketplaceConnection)) == 2


async def test_ai_results_keep_json_and_their_job(db: Database):
    data = {"forecast": [{"sku": "LEN-SV-150-CL", "next_7_days": 42}], "confidence": 0.8}
    async with db.session() as s:
        c = await company(s)
        s.add(AiResult(company_id=c.id, kind=AiResultKind.demand_forecast, job_id="ai-7",
                       for_date=dt.date(2025, 3, 15), data=data))  # fmt: skip
    async with db.session() as s:
        result = (await s.execute(select(AiResult))).scalar_one()
        assert result.data == data
        assert result.kind is AiResultKind.demand_forecast
        kind = (await s.execute(text("select kind from ai_results"))).scalar_one()
        assert kind == "demand-forecast"
