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
from ils.jobs.email.outgoing import Email
from ils.jobs.payloads import EmailAddress, Id, PersonalShortText, PersonalText, ShortText
from ils.jobs.resources import Ctx
from ils.jobs.rows import need
from ils.queue.declare import job
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import Payload, Personal

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.db import Database
    from ils.domain.models import Company, Order, User
    from ils.jobs.email.mailer import Mailer

GenericLayout = Literal["standard", "notice", "alert"]
USES = ("db", "mailer")
#: An order's confirmation enqueued again within this window (a double submit, a request
#: retried by the client) is sent once: BullMQ deduplication on the order's id.
CONFIRMATION_WINDOW_S = 600.0


class OrderConfirmationEmail(Payload):
    order_id: Id
    user_id: Id


class OrderShipmentEmail(Payload):
    order_id: Id
    user_id: Id
    tracking_number: ShortText = Field(examples=["1Z999AA10123456784"])
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
    subject: PersonalShortText = Field(examples=["Your eye examination on Monday"])
    text: PersonalText = Field(examples=["Dear Ada, we look forward to seeing you at 10:30."])
    html: PersonalText | None = None
    template: GenericLayout = Field(
        "standard", description="standard, notice (a highlighted panel) or alert (action needed)"
    )
    company_id: Id | None = Field(None, description="brand the email with this company")


async def _send(
    ctx: Ctx, email: Email, key: str | None = None, step: str = "before sending"
) -> dict[str, Any]:
    """Hand ``email`` to the process's mailer, logged under ``key`` (the job's id unless the job
    sends several), so that a retry does not send it twice; what the job answers for it. A job
    cancelled by then stops here (``step`` says where, in the job's cancelled answer)."""
    ctx.check_cancelled(step)
    mailer: Mailer = ctx.resources.mailer
    delivery = await mailer.deliver(ctx.resources.db, key or ctx.job_id, email)
    return delivery.as_result()


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


# The subject of each of an order's emails to its customer, by template, formatted with the
# company's name and the order's number.
ORDER_SUBJECTS = {
    "order_confirmation": "{company}: order {number} confirmed",
    "order_shipment": "{company}: order {number} has shipped",
}


async def _order_email(
    ctx: Ctx,
    payload: OrderConfirmationEmail | OrderShipmentEmail,
    template: str,
    extra: Callable[[Order], dict[str, Any]],
) -> Any:
    """One of an order's emails to its customer, from ``template`` with its subject
    (:data:`ORDER_SUBJECTS`); ``extra(order)`` adds to the template's context."""
    ids = payload.order_id, payload.user_id
    order, user, company = await _order_user_company(ctx.resources.db, *ids)
    subject = ORDER_SUBJECTS[template].format(company=company.name, number=order.number)
    context = {"order": order, "company": company, "user": user, **extra(order)}
    return await _send(ctx, Email((user.email,), subject, template, company.id, context))


def _rx_context(order: Order) -> dict[str, Any]:
    return {"rx": rx_summary(order)}


def once_per_order(payload: OrderConfirmationEmail) -> EnqueueOptions:
    """The confirmation's dedup key and window; a caller's own options win."""
    return EnqueueOptions(
        dedup_key=f"order-confirmation:{payload.order_id}", dedup_ttl_s=CONFIRMATION_WINDOW_S
    )


@job(OrderConfirmationEmail, queue="email", name="order-confirmation",
     description="order confirmation to the customer (once per order within 10 minutes)",
     priority=1, attempts=5, resources=USES, options_for=once_per_order)  # fmt: skip
async def order_confirmation(payload: OrderConfirmationEmail, ctx: Ctx) -> Any:
    return await _order_email(ctx, payload, "order_confirmation", _rx_context)


@job(OrderShipmentEmail, queue="email", name="order-shipment",
     description="shipment notice with tracking number", priority=2, attempts=5,
     resources=USES)  # fmt: skip
async def order_shipment(payload: OrderShipmentEmail, ctx: Ctx) -> Any:
    def tracking(order: Order) -> dict[str, Any]:
        return {
            "tracking_number": payload.tracking_number,
            "carrier": payload.carrier or order.carrier,
        }

    return await _order_email(ctx, payload, "order_shipment", tracking)


@job(PurchaseOrderEmail, queue="email", name="purchase-order",
     description="purchase order to a supplier", priority=2, attempts=5,
     resources=USES)  # fmt: skip
async def purchase_order(payload: PurchaseOrderEmail, ctx: Ctx) -> Any:
    from sqlalchemy import select

    from ils.domain.models import Company, Product, PurchaseOrder, Supplier

    async with ctx.resources.db.session() as session:
        po = await need(session, PurchaseOrder, payload.purchase_order_id, "purchase order")
        supplier = await need(session, Supplier, payload.supplier_id, "supplier")
        company = await need(session, Company, po.company_id, "company")
        ids = [line.product_id for line in po.lines]
        products = {
            x.id: x for x in await session.scalars(select(Product).where(Product.id.in_(ids)))
        }
    if not supplier.email:
        raise GiveUp(f"supplier {supplier.id} ({supplier.name}) has no email address")
    subject = f"Purchase order {po.number} from {company.name}"
    lines = [(line, products[line.product_id]) for line in po.lines]
    context = {"po": po, "supplier": supplier, "company": company, "lines": lines}
    email = Email((supplier.email,), subject, "purchase_order", company.id, context)
    return await _send(ctx, email)


@job(MarketplaceConnectionEmail, queue="email", name="marketplace-connection",
     description="connection request to the target company's admins", priority=3,
     attempts=3, resources=USES)  # fmt: skip
async def marketplace_connection(payload: MarketplaceConnectionEmail, ctx: Ctx) -> Any:
    from sqlalchemy import select

    from ils.domain.models import Company, MarketplaceConnection, User

    async with ctx.resources.db.session() as session:
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
    subject = f"{requester.name} wants to connect with {target.name}"
    context = {"connection": connection, "company": target, "requester": requester}
    return await _send(ctx, Email(to, subject, "marketplace_connection", target.id, context))


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

    async with ctx.resources.db.session() as session:
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
    subject = f"{company.name}: your briefing for {payload.date:%d %b %Y}"
    shared = {"company": company, "day": payload.date, "stats": stats,
              "summary": summary if isinstance(summary, str) else None}  # fmt: skip
    deliveries: list[dict[str, Any]] = []
    refused: list[str] = []
    for user in users:
        email = Email(
            (user.email,), subject, "daily_briefing", company.id, {**shared, "user": user}
        )
        try:
            step = f"after {len(deliveries)} of {len(users)} emails"
            sent = await _send(ctx, email, f"{ctx.job_id}:{user.id}", step)
        except GiveUp as exc:
            refused.append(f"user {user.id}: {exc}")
            continue
        deliveries.append(sent)
    if not deliveries:
        raise GiveUp("; ".join(refused))
    return {"emails": deliveries, "refused": refused}


@job(GenericEmail, queue="email", name="generic", description="any templated email",
     priority=4, attempts=3, resources=USES)  # fmt: skip
async def generic(payload: GenericEmail, ctx: Ctx) -> Any:
    from ils.domain.models import Company
    from ils.jobs.email.render import sanitize

    company = None
    if payload.company_id is not None:
        async with ctx.resources.db.session() as session:
            company = await need(session, Company, payload.company_id, "company")
    paragraphs = [part.strip() for part in payload.text.split("\n\n") if part.strip()]
    context = {
        "company": company,
        "layout": payload.template,
        "text": payload.text,
        "paragraphs": paragraphs,
        "body_html": sanitize(payload.html) if payload.html else None,
    }
    to = tuple(str(a) for a in payload.to)
    return await _send(ctx, Email(to, payload.subject, "generic", payload.company_id, context))
