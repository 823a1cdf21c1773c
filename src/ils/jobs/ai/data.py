"""What the AI jobs read from the company's data: daily series (demand per product, revenue,
orders, units, new patients) in the company's time zone, and the catalogue with stock and lead
times.

Every query here takes the company id and filters on it: no AI job or chat tool reads across
companies. Reads only; results are plain values that can go to the model pool.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import (
    Company,
    Order,
    OrderLine,
    OrderStatus,
    Patient,
    Product,
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    Supplier,
)
from ils.errors import GiveUp

METRICS = ("revenue", "orders", "inventory", "patients")


@dataclass(frozen=True)
class ProductInfo:
    id: int
    sku: str
    name: str
    kind: str
    stock: int
    reorder_threshold: int
    lead_time_days: int
    active: bool
    price: Decimal


async def company(session: AsyncSession, company_id: int) -> Company:
    """The company, or the job gives up naming it."""
    found = await session.get(Company, company_id)
    if found is None:
        raise GiveUp(f"company {company_id} does not exist")
    return found


def zone(c: Company) -> ZoneInfo:
    try:
        return ZoneInfo(c.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def local_today(c: Company, now: dt.datetime | None = None) -> dt.date:
    return (now or dt.datetime.now(dt.UTC)).astimezone(zone(c)).date()


def day_range(end: dt.date, days: int) -> list[dt.date]:
    """The ``days`` days ending with ``end``, oldest first."""
    return [end - dt.timedelta(days=days - 1 - i) for i in range(days)]


def utc_bounds(c: Company, first: dt.date, last: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants from the start of ``first`` to the end of ``last``, local days."""
    tz = zone(c)
    start = dt.datetime.combine(first, dt.time(), tz).astimezone(dt.UTC)
    end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(), tz).astimezone(dt.UTC)
    return start, end


def _bucket(
    c: Company, days: Sequence[dt.date], rows: Iterable[tuple[dt.datetime, float]]
) -> list[float]:
    tz, index = zone(c), {d: i for i, d in enumerate(days)}
    out = [0.0] * len(days)
    for at, value in rows:
        i = index.get(at.astimezone(tz).date())
        if i is not None:
            out[i] += float(value)
    return out


async def products(
    session: AsyncSession, company_id: int, product_ids: Sequence[int] | None = None
) -> list[ProductInfo]:
    """The company's products (the named ones, else the active ones), by id."""
    query = (
        select(Product, Supplier.lead_time_days)
        .outerjoin(Supplier, Supplier.id == Product.supplier_id)
        .where(Product.company_id == company_id)
        .order_by(Product.id)
    )
    query = query.where(Product.id.in_(product_ids)) if product_ids else query.where(Product.active)
    rows = (await session.execute(query)).all()
    return [
        ProductInfo(p.id, p.sku, p.name, p.kind.value, p.stock, p.reorder_threshold,
                    lead if lead is not None else 7, p.active, p.price)
        for p, lead in rows
    ]  # fmt: skip


async def open_purchase_quantities(
    session: AsyncSession, company_id: int, product_ids: Sequence[int]
) -> dict[int, int]:
    """Units per product on the company's purchase orders not yet received (drafts and sent)."""
    rows = await session.execute(
        select(PurchaseOrderLine.product_id, func.sum(PurchaseOrderLine.quantity))
        .join(PurchaseOrder, PurchaseOrder.id == PurchaseOrderLine.purchase_order_id)
        .where(
            PurchaseOrder.company_id == company_id,
            PurchaseOrder.status.in_([PurchaseOrderStatus.draft, PurchaseOrderStatus.sent]),
            PurchaseOrderLine.product_id.in_(product_ids),
        )
        .group_by(PurchaseOrderLine.product_id)
    )
    return {pid: int(total or 0) for pid, total in rows}


async def daily_demand(
    session: AsyncSession, c: Company, days: Sequence[dt.date], product_ids: Sequence[int]
) -> dict[int, list[float]]:
    """Units ordered per product per local day (cancelled orders left out)."""
    start, end = utc_bounds(c, days[0], days[-1])
    rows = await session.execute(
        select(OrderLine.product_id, Order.created_at, OrderLine.quantity)
        .join(Order, Order.id == OrderLine.order_id)
        .where(
            Order.company_id == c.id,
            Order.status != OrderStatus.cancelled,
            Order.created_at >= start,
            Order.created_at < end,
            OrderLine.product_id.in_(product_ids),
        )
    )
    by_product: dict[int, list[tuple[dt.datetime, float]]] = defaultdict(list)
    for product_id, created, quantity in rows:
        if product_id is not None:
            by_product[product_id].append((created, quantity))
    return {pid: _bucket(c, days, by_product.get(pid, [])) for pid in product_ids}


async def metric_series(
    session: AsyncSession, c: Company, metric: str, days: Sequence[dt.date]
) -> list[float]:
    """One value per local day: ``revenue`` (order totals), ``orders`` (count), ``inventory``
    (units of stock ordered out) or ``patients`` (new patient records)."""
    start, end = utc_bounds(c, days[0], days[-1])
    live = (Order.company_id == c.id, Order.status != OrderStatus.cancelled,
            Order.created_at >= start, Order.created_at < end)  # fmt: skip
    if metric == "revenue":
        sums = (await session.execute(select(Order.created_at, Order.total).where(*live))).all()
        return _bucket(c, days, ((at, float(total)) for at, total in sums))
    if metric == "orders":
        stamps = await session.scalars(select(Order.created_at).where(*live))
        return _bucket(c, days, ((at, 1.0) for at in stamps))
    if metric == "inventory":
        rows = (
            await session.execute(
                select(Order.created_at, OrderLine.quantity)
                .join(Order, Order.id == OrderLine.order_id)
                .where(*live, OrderLine.product_id.is_not(None))
            )
        ).all()
        return _bucket(c, days, ((at, float(q)) for at, q in rows))
    if metric == "patients":
        stamps = await session.scalars(
            select(Patient.created_at).where(
                Patient.company_id == c.id, Patient.created_at >= start, Patient.created_at < end
            )
        )
        return _bucket(c, days, ((at, 1.0) for at in stamps))
    raise ValueError(f"unknown metric {metric!r}; one of {', '.join(METRICS)}")


def regroup(
    days: Sequence[dt.date], values: Sequence[float], grain: str
) -> tuple[list[str], list[float]]:
    """Daily values summed to ``weekly`` (ISO weeks, Monday first) or ``monthly`` buckets, with
    each bucket's label; ``daily`` returns them as they are. Incomplete first and last buckets are
    dropped, so a half week is never compared with whole ones."""
    if grain == "daily":
        return [d.isoformat() for d in days], list(values)
    sums: dict[str, float] = {}
    sizes: dict[str, int] = defaultdict(int)
    for d, v in zip(days, values, strict=True):
        if grain == "weekly":
            label = (d - dt.timedelta(days=d.weekday())).isoformat()
        else:
            label = f"{d.year:04d}-{d.month:02d}"
        sums[label] = sums.get(label, 0.0) + v
        sizes[label] += 1

    def whole(label: str) -> bool:
        if grain == "weekly":
            return sizes[label] == 7
        year, month = int(label[:4]), int(label[5:])
        return sizes[label] == calendar.monthrange(year, month)[1]

    keep = [label for label in sums if whole(label)]
    return keep, [round(sums[label], 2) for label in keep]
