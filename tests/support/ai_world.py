"""A small trading history for the AI tests, from a seeded generator: a company with an admin,
suppliers, products and daily orders (weekly season, known per-product rates) up to yesterday,
and a second company with its own, very different, data to prove nothing crosses over."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

import numpy as np
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.db import Database
from ils.domain.models import (
    Company,
    CompanyKind,
    LineKind,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    ProductKind,
    Role,
    Supplier,
    User,
)

WEEKDAY = np.array([1.0, 1.05, 1.0, 1.1, 1.2, 0.45, 0.15])


@dataclass
class Shop:
    company_id: int
    admin_id: int
    staff_id: int
    product_ids: list[int]
    skus: list[str]
    supplier_id: int
    daily: dict[int, list[int]] = field(default_factory=dict)


def yesterday() -> dt.date:
    return dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)


async def make_shop(
    db: Database,
    slug: str,
    products: int = 5,
    days: int = 120,
    seed: int = 1,
    rates: list[float] | None = None,
    stocks: list[int] | None = None,
    price: str = "20.00",
) -> Shop:
    """``products`` products sold daily for ``days`` days ending yesterday (UTC company), each at
    its rate (``rates``, default 2, 4, 6, ...) times the weekday's factor, Poisson noise."""
    rng = np.random.default_rng(seed)
    rates = rates or [2.0 * (i + 1) for i in range(products)]
    stocks = stocks or [1000] * products
    async with db.session() as s:
        company = Company(name=f"Shop {slug}", slug=slug, kind=CompanyKind.practice)
        s.add(company)
        await s.flush()
        admin = User(company_id=company.id, email=f"admin@{slug}.example", name="Ada Admin",
                     password_hash="x", role=Role.admin)  # fmt: skip
        staff = User(company_id=company.id, email=f"staff@{slug}.example", name="Sam Staff",
                     password_hash="x", role=Role.staff)  # fmt: skip
        supplier = Supplier(company_id=company.id, name=f"Supplier {slug}", lead_time_days=5)
        s.add_all([admin, staff, supplier])
        await s.flush()
        rows = [
            {"company_id": company.id, "sku": f"{slug[:3].upper()}-{i:03d}",
             "name": f"Product {slug} {i}", "kind": ProductKind.lens, "supplier_id": supplier.id,
             "price": Decimal(price), "cost": Decimal("5.00"), "stock": stocks[i],
             "reorder_threshold": 10, "active": True}
            for i in range(products)
        ]  # fmt: skip
        ids = list((await s.scalars(insert(Product).returning(Product.id), rows)).all())
        end = yesterday()
        shop = Shop(company.id, admin.id, staff.id, ids, [r["sku"] for r in rows], supplier.id)
        first = end - dt.timedelta(days=days - 1)
        sales: dict[dt.date, list[tuple[int, int]]] = {}
        for pid, rate in zip(ids, rates, strict=True):
            series = []
            for d in range(days):
                day = first + dt.timedelta(days=d)
                qty = int(rng.poisson(rate * WEEKDAY[day.weekday()]))
                series.append(qty)
                if qty:
                    sales.setdefault(day, []).append((pid, qty))
            shop.daily[pid] = series
        await add_orders(db_session=s, shop=shop, sales=sales, price=Decimal(price))
    return shop


async def add_orders(
    db_session: AsyncSession,
    shop: Shop,
    sales: dict[dt.date, list[tuple[int, int]]],
    price: Decimal,
    first_number: int = 1,
) -> None:
    """One order per product and day sold, at 10:00 UTC, with one line."""
    orders, lines = [], []
    n = first_number - 1
    for day in sorted(sales):
        for pid, qty in sales[day]:
            n += 1
            total = price * qty
            orders.append({
                "company_id": shop.company_id, "number": f"ORD-{n:06d}",
                "customer_name": "Customer", "status": OrderStatus.delivered,
                "created_at": dt.datetime.combine(day, dt.time(10), dt.UTC),
                "subtotal": total, "tax": Decimal("0.00"), "total": total,
            })  # fmt: skip
            lines.append((pid, qty, total))
    ids = list((await db_session.scalars(insert(Order).returning(Order.id), orders)).all())
    await db_session.execute(insert(OrderLine), [
        {"order_id": oid, "product_id": pid, "kind": LineKind.lens, "description": "Lens",
         "quantity": qty, "unit_price": price, "line_total": total}
        for oid, (pid, qty, total) in zip(ids, lines, strict=True)
    ])  # fmt: skip
