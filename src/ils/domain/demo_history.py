"""A year of the demo practice's trading, made from a seeded ``random.Random``: daily orders
(weekly seasonality, an upward trend, noise) with lines and statuses that fit their age, the
popular lenses and frames ordered far more often than the rest (so demand forecasts have best
sellers to work on),
invoices and payments for most finished orders, and restocking purchase orders.

Pure functions returning plans of rows; :mod:`ils.domain.demo` inserts them and links the ids.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from ils.domain.demo_catalog import PatientProfile
from ils.domain.enums import (
    Eye,
    InvoiceStatus,
    LineKind,
    OrderStatus,
    PaymentMethod,
    ProductKind,
    PurchaseOrderStatus,
)
from ils.domain.models.billing import invoice_number
from ils.domain.models.orders import order_number
from ils.domain.models.purchasing import purchase_order_number
from ils.domain.models.types import to_money

Row = dict[str, Any]

TAX_RATE = Decimal("20.000")
BASE_ORDERS_PER_DAY = 10.0
TREND = 0.6  # the last day sees 60 % more orders than the first, all else equal
# Monday .. Sunday: the practice is quiet on Saturdays and nearly shut on Sundays.
WEEKDAY_FACTORS = (1.0, 1.05, 1.0, 1.1, 1.2, 0.45, 0.15)
# How much the best-selling lenses and frames outsell the rest (see popular()).
POPULARITY_SKEW = 0.9
CARRIERS = (("Royal Mail", "RM"), ("DPD", "15"), ("DHL", "JD"), ("UPS", "1Z"))
INSTRUCTIONS = (
    "Minimum fitting height 18 mm.",
    "Match base curve of previous pair.",
    "Patient is a keen cyclist: wrap frame, check clearance.",
    "Rush: patient travelling next week.",
    "Thin edges please; high minus.",
)
SERVICE_PRICE = Decimal("15.00")
METHODS = (PaymentMethod.card, PaymentMethod.card, PaymentMethod.card, PaymentMethod.cash,
           PaymentMethod.bank_transfer, PaymentMethod.insurance)  # fmt: skip


@dataclass
class InvoicePlan:
    row: Row
    lines: list[Row]
    payments: list[Row]


@dataclass
class OrderPlan:
    row: Row
    lines: list[Row]
    invoice: InvoicePlan | None = None


@dataclass
class PurchasePlan:
    row: Row
    lines: list[Row] = field(default_factory=list)


@dataclass(frozen=True)
class Shop:
    """What orders are made of: the company, its people and its catalogue (rows with ids)."""

    company_id: int
    staff_ids: tuple[int, ...]
    patients: tuple[tuple[int, PatientProfile], ...]
    products: tuple[Row, ...]

    def of_kind(self, kind: ProductKind) -> list[Row]:
        return [p for p in self.products if p["kind"] is kind and p["active"]]


def history_days(end: dt.date, days: int = 365) -> list[dt.date]:
    """The ``days`` days ending with ``end`` (normally yesterday), oldest first."""
    return [end - dt.timedelta(days=days - 1 - i) for i in range(days)]


def daily_order_counts(rng: random.Random, days: list[dt.date]) -> list[int]:
    """Orders per day: a base rate times the weekday's factor times the trend, with noise."""
    counts = []
    for i, day in enumerate(days):
        trend = 1 + TREND * i / max(1, len(days) - 1)
        mean = BASE_ORDERS_PER_DAY * trend * WEEKDAY_FACTORS[day.weekday()]
        counts.append(max(0, round(mean * rng.gauss(1.0, 0.15))))
    return counts


def _at(day: dt.date, minutes_after_nine: int) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(9), dt.UTC) + dt.timedelta(minutes=minutes_after_nine)


def _line(product: Row, kind: LineKind, quantity: int, eye: Eye | None) -> Row:
    return {
        "product_id": product["id"], "kind": kind, "description": product["name"],
        "quantity": quantity, "unit_price": product["price"],
        "line_total": product["price"] * quantity, "eye": eye,
    }  # fmt: skip


def popular(rng: random.Random, products: list[Row]) -> Row:
    """One of ``products``, the earlier ones in the catalogue more often (weights 1/rank^0.9):
    a few best sellers, a long tail, as a practice's sales go."""
    weights = [1 / (rank + 1) ** POPULARITY_SKEW for rank in range(len(products))]
    return rng.choices(products, weights)[0]


def _order_lines(rng: random.Random, shop: Shop) -> list[Row]:
    lens = popular(rng, shop.of_kind(ProductKind.lens))
    if rng.random() < 0.6:
        lines = [_line(lens, LineKind.lens, 2, Eye.both)]
    else:
        lines = [_line(lens, LineKind.lens, 1, Eye.right), _line(lens, LineKind.lens, 1, Eye.left)]
    if rng.random() < 0.75:
        lines.append(_line(popular(rng, shop.of_kind(ProductKind.frame)), LineKind.frame, 1, None))
    for coating in rng.sample(shop.of_kind(ProductKind.coating), rng.choice((0, 1, 1, 2))):
        lines.append(_line(coating, LineKind.coating, 1, Eye.both))
    if rng.random() < 0.3:
        lines.append({
            "product_id": None, "kind": LineKind.service, "description": "Fitting and adjustment",
            "quantity": 1, "unit_price": SERVICE_PRICE, "line_total": SERVICE_PRICE, "eye": None,
        })  # fmt: skip
    return lines


def _progress(
    rng: random.Random, created: dt.datetime, age_days: int
) -> tuple[OrderStatus, dict[str, Any]]:
    """Where an order placed ``age_days`` before the history's end has got to by then."""
    if rng.random() < 0.03:
        return OrderStatus.cancelled, {"updated_at": created + dt.timedelta(hours=3)}
    ship_after = rng.randint(2, 6)
    deliver_after = ship_after + rng.randint(1, 3)
    shipped = created + dt.timedelta(days=ship_after, minutes=rng.randint(0, 240))
    delivered = created + dt.timedelta(days=deliver_after, minutes=rng.randint(0, 240))
    carrier, prefix = rng.choice(CARRIERS)
    shipping = {"shipped_at": shipped, "carrier": carrier,
                "tracking_number": f"{prefix}{rng.randrange(10**9, 10**10)}"}  # fmt: skip
    if age_days >= deliver_after:
        return OrderStatus.delivered, {**shipping, "delivered_at": delivered,
                                       "updated_at": delivered}  # fmt: skip
    if age_days >= ship_after:
        return OrderStatus.shipped, {**shipping, "updated_at": shipped}
    if age_days >= ship_after - 1:
        return OrderStatus.quality_check, {"updated_at": created + dt.timedelta(days=age_days)}
    if age_days >= 1:
        return OrderStatus.in_production, {"updated_at": created + dt.timedelta(hours=20)}
    return OrderStatus.pending, {"updated_at": created}


def _order(
    rng: random.Random, shop: Shop, sequence: int, created: dt.datetime, age: int
) -> OrderPlan:
    lines = _order_lines(rng, shop)
    subtotal = to_money(sum((line["line_total"] for line in lines), Decimal(0)))
    tax = to_money(subtotal * TAX_RATE / 100)
    status, progress = _progress(rng, created, age)
    row: Row = {
        "company_id": shop.company_id, "number": order_number(sequence), "status": status,
        "created_by_user_id": rng.choice(shop.staff_ids), "created_at": created,
        "due_date": created.date() + dt.timedelta(days=7), "subtotal": subtotal, "tax": tax,
        "total": subtotal + tax, "shipped_at": None, "delivered_at": None, "carrier": None,
        "tracking_number": None,
        "tray_number": None if status is OrderStatus.pending else f"T{rng.randint(1, 250):03d}",
        "special_instructions": rng.choice(INSTRUCTIONS) if rng.random() < 0.1 else None,
        "frame_a": None, "frame_b": None, "frame_dbl": None, "frame_ed": None, **progress,
    }  # fmt: skip
    if any(line["kind"] is LineKind.frame for line in lines):
        a = Decimal(rng.randint(480, 560)) / 10
        row |= {"frame_a": a, "frame_b": Decimal(rng.randint(300, 420)) / 10,
                "frame_dbl": Decimal(rng.randint(160, 220)) / 10,
                "frame_ed": a + Decimal(rng.randint(15, 40)) / 10}  # fmt: skip
    if rng.random() < 0.88:
        patient_id, profile = rng.choice(shop.patients)
        name = f"{profile.row['first_name']} {profile.row['last_name']}"
        row |= {"patient_id": patient_id, "customer_name": name, **profile.rx}
    else:  # a walk-in buying on someone else's prescription
        patient_id, profile = rng.choice(shop.patients)
        row |= {"patient_id": None, "customer_name": "Walk-in customer", **profile.rx}
    return OrderPlan(row, lines)


def _invoice(rng: random.Random, order: OrderPlan, sequence: int, address: str) -> InvoicePlan:
    o = order.row
    issued = o["created_at"] + dt.timedelta(minutes=rng.randint(5, 240))
    row: Row = {
        "company_id": o["company_id"], "number": invoice_number(sequence), "issued_at": issued,
        "due_date": issued.date() + dt.timedelta(days=30), "billing_name": o["customer_name"],
        "billing_address": address, "subtotal": o["subtotal"], "tax_rate": TAX_RATE,
        "tax": o["tax"], "total": o["total"], "amount_paid": Decimal("0.00"),
        "status": InvoiceStatus.issued, "payment_terms": "Payment due within 30 days.",
        "created_at": issued,
    }  # fmt: skip
    lines = [{k: line[k] for k in ("product_id", "description", "quantity", "unit_price",
                                   "line_total")} for line in order.lines]  # fmt: skip
    payments: list[Row] = []
    if o["status"] is OrderStatus.delivered and rng.random() < 0.92:
        amounts = [o["total"]]
        if rng.random() < 0.25:  # a deposit when ordering, the balance on collection
            deposit = to_money(o["total"] / 2)
            amounts = [deposit, o["total"] - deposit]
        times = [issued, o["delivered_at"]][-len(amounts) :]
        for amount, paid_at in zip(amounts, times, strict=True):
            method = rng.choice(METHODS)
            payments.append({
                "company_id": o["company_id"], "amount": amount, "method": method,
                "paid_at": paid_at, "created_at": paid_at,
                "reference": f"{method.value[:4].upper()}-{rng.randrange(10**6, 10**7)}",
            })  # fmt: skip
        row |= {"amount_paid": o["total"], "status": InvoiceStatus.paid}
    return InvoicePlan(row, lines, payments)


def order_history(rng: random.Random, shop: Shop, days: list[dt.date]) -> list[OrderPlan]:
    """Every order of the history, numbered in time order; finished ones mostly invoiced."""
    addresses = {pid: profile.address for pid, profile in shop.patients}
    plans: list[OrderPlan] = []
    invoices = 0
    end = days[-1]
    for day, count in zip(days, daily_order_counts(rng, days), strict=True):
        for minutes in sorted(rng.randint(0, 540) for _ in range(count)):
            plan = _order(rng, shop, len(plans) + 1, _at(day, minutes), (end - day).days)
            plans.append(plan)
            finished = plan.row["status"] in (OrderStatus.shipped, OrderStatus.delivered)
            if finished and rng.random() < 0.9:
                invoices += 1
                address = addresses.get(plan.row["patient_id"], "Collected in store")
                plan.invoice = _invoice(rng, plan, invoices, address)
    return plans


def purchase_orders(
    rng: random.Random,
    shop: Shop,
    suppliers: list[tuple[int, int]],
    days: list[dt.date],
    buyer_id: int,
) -> list[PurchasePlan]:
    """A restocking order to some supplier every week or two; ``suppliers`` holds (id, lead
    time). Received once the lead time has passed, the newest still a draft."""
    plans: list[PurchasePlan] = []
    end = days[-1]
    day = days[0] + dt.timedelta(days=rng.randint(0, 6))
    while day <= end:
        supplier_id, lead = rng.choice(suppliers)
        stocked = [p for p in shop.products if p["supplier_id"] == supplier_id]
        created = _at(day, rng.randint(0, 480))
        age = (end - day).days
        status = PurchaseOrderStatus.received if age > lead else PurchaseOrderStatus.sent
        plan = PurchasePlan({
            "company_id": shop.company_id, "supplier_id": supplier_id,
            "number": purchase_order_number(len(plans) + 1), "status": status,
            "created_by_user_id": buyer_id, "notes": None, "created_at": created,
            "sent_at": created + dt.timedelta(hours=1),
            "received_at": created + dt.timedelta(days=lead) if age > lead else None,
        })  # fmt: skip
        for product in rng.sample(stocked, min(len(stocked), rng.randint(3, 8))):
            quantity = rng.randint(5, 50)
            plan.lines.append({"product_id": product["id"], "quantity": quantity,
                               "unit_cost": product["cost"],
                               "line_total": product["cost"] * quantity})  # fmt: skip
        plan.row["total"] = sum((line["line_total"] for line in plan.lines), Decimal("0.00"))
        plans.append(plan)
        day += dt.timedelta(days=rng.randint(7, 14))
    if plans:
        plans[-1].row |= {"status": PurchaseOrderStatus.draft, "sent_at": None,
                          "received_at": None}  # fmt: skip
    return plans
