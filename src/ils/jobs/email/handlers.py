"""The six email job types: each one's payload, declaration and handler. A handler loads what
it needs by id at send time, gives up with a clear reason when something is gone, and hands the
email to the process's :class:`Mailer`.

They declare the database and the mailer (``ctx.resources.db``, ``ctx.resources.mailer``); the
mailer (and with it Jinja2 and the SMTP client) is imported and built by the process that runs
them, not by those that only enqueue. The models and SQLAlchemy are imported by the handlers when
they run, not with the declarations every process's registry loads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field

from ils.domain.enums import ADMIN_ROLES, AiResultKind, OrderStatus
from ils.errors import GiveUp
from ils.jobs.payloads import EmailAddress, Id, PersonalShortText, PersonalText, ShortText
from ils.jobs.resources import Ctx
from ils.jobs.rows import need
from ils.queue.declare import job
from ils.queue.registry import Payload, Personal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.db import Database
    from ils.domain.models import Company, Order, User
    from ils.jobs.email.mailer import Mailer

GenericLayout = Literal["standard", "notice", "alert"]
USES = ("db", "mailer")


class OrderConfirmationEmail(Payload):
    order_id: Id
    user_id: Id


class OrderShipmentEmail(Payload):
    order_id: Id
    user_id: Id
    tracking_number: ShortText
    carrier: ShortText | None = None


class PurchaseOrderEmail(Payload):
    purchase_order_id: Id
    supplier_id: Id


class MarketplaceConnectionEmail(Payload):
    connection_id: Id
    target_company_id: Id


class DailyBriefingEmail(Payload):
    company_id: Id
    user_ids: list[Id] = Field(min_length=1, max_length=500)
    date: dt.date


class GenericEmail(Payload):
    to: Annotated[list[EmailAddress], Personal()] = Field(min_length=1, max_length=100)
    subject: PersonalShortText
    text: PersonalText
    html: PersonalText | None = None
    template: GenericLayout = Field(
        "standard", description="standard, notice (a highlighted panel) or alert (action needed)"
    )
    company_id: Id | None = Field(None, description="brand the email with this company")


def _tools(ctx: Ctx) -> tuple[Database, Mailer]:
    return ctx.resources.db, ctx.resources.mailer


def rx_summary(order: Order) -> list[str]:
    """One line per eye with the values the order carries, e.g. ``R: SPH -2.25 CYL -0.50 AX 90``."""
    rows = []
    for eye, label in (("right", "R"), ("left", "L")):
        parts = []
        for name, short in (
            ("sphere", "SPH"),
            ("cylinder", "CYL"),
            ("axis", "AX"),
            ("add", "ADD"),
            ("prism", "PRISM"),
        ):
            value = getattr(order, f"{eye}_{name}")
            if value is not None:
                parts.append(
                    f"{short} {value:+.2f}"
                    if isinstance(value, Decimal) and name in ("sphere", "cylinder")
                    else f"{short} {value}"
                )
        if parts:
            rows.append(f"{label}: {' '.join(parts)}")
    if order.pd_binocular is not None:
        rows.append(f"PD: {order.pd_binocular}")
    return rows


async def _order_user_company(
    db: Database, order_id: int, user_id: int
) -> tuple[Order, User, Company]:
    """What an order's emails need, loaded at send time; a missing one gives up."""
    from ils.domain.models import Company, Order, User

    async with db.session() as session:
        order = await need(session, Order, order_id, "order")
        user = await need(session, User, user_id, "user")
        company = await need(session, Company, order.company_id, "company")
    return order, user, company


async def _order_email(
    ctx: Ctx,
    payload: OrderConfirmationEmail | OrderShipmentEmail,
    template: str,
    subject: str,
    extra: Callable[[Order], dict[str, Any]],
) -> Any:
    """One of an order's emails to its customer. ``subject`` is formatted with ``company`` (its
    name) and ``number`` (the order's); ``extra(order)`` adds to the template's context."""
    db, mailer = _tools(ctx)
    order, user, company = await _order_user_company(db, payload.order_id, payload.user_id)
    delivery = await mailer.deliver(
        db,
        ctx.job_id,
        to=(user.email,),
        template=template,
        subject=subject.format(company=company.name, number=order.number),
        company_id=company.id,
        context={"order": order, "company": company, "user": user, **extra(order)},
    )
    return delivery.as_result()


def _rx_context(order: Order) -> dict[str, Any]:
    return {"rx": rx_summary(order)}


@job(OrderConfirmationEmail, queue="email", name="order-confirmation",
     description="order confirmation to the customer", priority=1, attempts=5,
     resources=USES)  # fmt: skip
async def order_confirmation(payload: OrderConfirmationEmail, ctx: Ctx) -> Any:
    subject = "{company}: order {number} confirmed"
    return await _order_email(ctx, payload, "order_confirmation", subject, _rx_context)


@job(OrderShipmentEmail, queue="email", name="order-shipment",
     description="shipment notice with tracking number", priority=2, attempts=5,
     resources=USES)  # fmt: skip
async def order_shipment(payload: OrderShipmentEmail, ctx: Ctx) -> Any:
    def tracking(order: Order) -> dict[str, Any]:
        return {
            "tracking_number": payload.tracking_number,
            "carrier": payload.carrier or order.carrier,
        }

    subject = "{company}: order {number} has shipped"
    return await _order_email(ctx, payload, "order_shipment", subject, tracking)


@job(PurchaseOrderEmail, queue="email", name="purchase-order",
     description="purchase order to a supplier", priority=2, attempts=5,
     resources=USES)  # fmt: skip
async def purchase_order(payload: PurchaseOrderEmail, ctx: Ctx) -> Any:
    from sqlalchemy import select

    from ils.domain.models import Company, Product, PurchaseOrder, Supplier

    db, mailer = _tools(ctx)
    async with db.session() as session:
        po = await need(session, PurchaseOrder, payload.purchase_order_id, "purchase order")
        supplier = await need(session, Supplier, payload.supplier_id, "supplier")
        company = await need(session, Company, po.company_id, "company")
        ids = [line.product_id for line in po.lines]
        products = {
            x.id: x for x in await session.scalars(select(Product).where(Product.id.in_(ids)))
        }
    if not supplier.email:
        raise GiveUp(f"supplier {supplier.id} ({supplier.name}) has no email address")
    delivery = await mailer.deliver(
        db,
        ctx.job_id,
        to=(supplier.email,),
        template="purchase_order",
        subject=f"Purchase order {po.number} from {company.name}",
        company_id=company.id,
        context={
            "po": po,
            "supplier": supplier,
            "company": company,
            "lines": [(line, products[line.product_id]) for line in po.lines],
        },
    )
    return delivery.as_result()


@job(MarketplaceConnectionEmail, queue="email", name="marketplace-connection",
     description="connection request to the target company's admins", priority=3,
     attempts=3, resources=USES)  # fmt: skip
async def marketplace_connection(payload: MarketplaceConnectionEmail, ctx: Ctx) -> Any:
    from sqlalchemy import select

    from ils.domain.models import Company, MarketplaceConnection, User

    db, mailer = _tools(ctx)
    async with db.session() as session:
        connection = await need(session, MarketplaceConnection, payload.connection_id, "connection")
        target = await need(session, Company, payload.target_company_id, "company")
        requester = await need(session, Company, connection.requester_company_id, "company")
        admins = await session.scalars(
            select(User.email)
            .where(User.company_id == target.id, User.is_active, User.role.in_(ADMIN_ROLES))
            .order_by(User.id)
        )
        to = tuple(admins) or ((target.email,) if target.email else ())
    if not to:
        raise GiveUp(f"company {target.id} ({target.name}) has no admin or email to write to")
    delivery = await mailer.deliver(
        db,
        ctx.job_id,
        to=to,
        template="marketplace_connection",
        company_id=target.id,
        subject=f"{requester.name} wants to connect with {target.name}",
        context={"connection": connection, "company": target, "requester": requester},
    )
    return delivery.as_result()


async def _briefing_stats(session: AsyncSession, company_id: int, day: dt.date) -> dict[str, Any]:
    from sqlalchemy import func, select

    from ils.domain.models import Order, Product

    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    of_day = (
        Order.company_id == company_id,
        Order.created_at >= start,
        Order.created_at < start + dt.timedelta(days=1),
    )
    count, revenue = (
        await session.execute(
            select(func.count(Order.id), func.coalesce(func.sum(Order.total), 0)).where(*of_day)
        )
    ).one()
    in_production = await session.scalar(
        select(func.count(Order.id)).where(
            Order.company_id == company_id, Order.status == OrderStatus.in_production
        )
    )
    low = await session.scalar(
        select(func.count(Product.id)).where(
            Product.company_id == company_id,
            Product.active,
            Product.stock <= Product.reorder_threshold,
        )
    )
    # sum() and coalesce() take Order.total's type, so SQLite's integer cents come back as Decimal.
    return {
        "orders": count,
        "revenue": revenue or Decimal("0.00"),
        "in_production": in_production or 0,
        "low_stock": low or 0,
    }


@job(DailyBriefingEmail, queue="email", name="daily-briefing",
     description="the AI daily briefing by email", priority=5, attempts=3,
     resources=USES)  # fmt: skip
async def daily_briefing(payload: DailyBriefingEmail, ctx: Ctx) -> Any:
    """One email per user (each logged under ``<job id>:<user id>``, so a retry sends only the
    ones not yet accepted); users gone are skipped. A user whose address is refused for good does
    not stop the others; the job gives up only when nobody could be written to."""
    from sqlalchemy import select

    from ils.domain.models import AiResult, Company, User

    db, mailer = _tools(ctx)
    async with db.session() as session:
        company = await need(session, Company, payload.company_id, "company")
        found = await session.scalars(
            select(User).where(
                User.id.in_(payload.user_ids), User.company_id == company.id, User.is_active
            )
        )
        users = sorted(found, key=lambda u: u.id)
        stats = await _briefing_stats(session, company.id, payload.date)
        result = await session.scalar(
            select(AiResult)
            .where(
                AiResult.company_id == company.id,
                AiResult.kind == AiResultKind.daily_briefing,
                AiResult.for_date == payload.date,
            )
            .order_by(AiResult.id.desc())
            .limit(1)
        )
    if not users:
        raise GiveUp(f"none of users {payload.user_ids} is an active user of company {company.id}")
    summary = result.data.get("summary") if result is not None else None
    deliveries: list[dict[str, Any]] = []
    refused: list[str] = []
    for user in users:
        try:
            delivery = await mailer.deliver(
                db,
                f"{ctx.job_id}:{user.id}",
                to=(user.email,),
                template="daily_briefing",
                subject=f"{company.name}: your briefing for {payload.date:%d %b %Y}",
                company_id=company.id,
                context={
                    "company": company,
                    "user": user,
                    "day": payload.date,
                    "stats": stats,
                    "summary": summary if isinstance(summary, str) else None,
                },
            )
        except GiveUp as exc:
            refused.append(f"user {user.id}: {exc}")
            continue
        deliveries.append(delivery.as_result())
    if not deliveries:
        raise GiveUp("; ".join(refused))
    return {"emails": deliveries, "refused": refused}


@job(GenericEmail, queue="email", name="generic", description="any templated email",
     priority=4, attempts=3, resources=USES)  # fmt: skip
async def generic(payload: GenericEmail, ctx: Ctx) -> Any:
    from ils.domain.models import Company
    from ils.jobs.email.render import sanitize

    db, mailer = _tools(ctx)
    company = None
    if payload.company_id is not None:
        async with db.session() as session:
            company = await need(session, Company, payload.company_id, "company")
    paragraphs = [part.strip() for part in payload.text.split("\n\n") if part.strip()]
    delivery = await mailer.deliver(
        db,
        ctx.job_id,
        to=tuple(str(a) for a in payload.to),
        subject=payload.subject,
        template="generic",
        company_id=payload.company_id,
        context={
            "company": company,
            "layout": payload.template,
            "text": payload.text,
            "paragraphs": paragraphs,
            "body_html": sanitize(payload.html) if payload.html else None,
        },
    )
    return delivery.as_result()
