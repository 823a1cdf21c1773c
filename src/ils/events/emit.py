"""The events the domain services record at their change points, built from the rows they changed:
one function per kind of change, each recording in the caller's session (its transaction).

The services call these after the change is flushed (so rows have their ids) and before their
transaction commits: an error in between rolls back both the change and its event.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.events import Event
from ils.events.envelope import Actor
from ils.events.record import record

if TYPE_CHECKING:
    from ils.domain.models import (
        Company,
        Invoice,
        MarketplaceConnection,
        Order,
        Payment,
        Product,
        User,
    )

#: The order's status -> the event that moving there records (beside order.status_changed).
STATUS_EVENTS = {"delivered": "order.delivered", "cancelled": "order.cancelled"}


def _value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return getattr(value, "value", value)


async def order_created(session: AsyncSession, order: Order) -> Event:
    data = {
        "order_id": order.id, "number": order.number, "status": order.status.value,
        "customer_name": order.customer_name, "total": order.total,
        "line_count": len(order.lines),
    }  # fmt: skip
    return await record(
        session, "order.created", company_id=order.company_id, subject=("order", order.id),
        data=data,
    )  # fmt: skip


async def order_updated(session: AsyncSession, order: Order, before: dict[str, Any]) -> None:
    """``order.updated`` with each field of ``before`` whose value changed (none: no event)."""
    changes = {
        name: {"old": _value(old), "new": _value(getattr(order, name))}
        for name, old in before.items()
        if getattr(order, name) != old
    }
    if changes:
        await record(
            session, "order.updated", company_id=order.company_id, subject=("order", order.id),
            data={"order_id": order.id, "number": order.number, "changes": changes},
        )  # fmt: skip


async def order_moved(session: AsyncSession, order: Order, from_status: str) -> None:
    """``order.status_changed``, and ``order.shipped``, ``.delivered`` or ``.cancelled`` when
    the order moved there."""
    to = order.status.value
    base = {"order_id": order.id, "number": order.number}
    subject = ("order", order.id)
    await record(
        session, "order.status_changed", company_id=order.company_id, subject=subject,
        data={**base, "from_status": from_status, "to_status": to},
    )  # fmt: skip
    if to == "shipped":
        tracking = {"tracking_number": order.tracking_number or "", "carrier": order.carrier}
        await record(session, "order.shipped", company_id=order.company_id, subject=subject,
                     data={**base, **tracking})  # fmt: skip
    elif to == "cancelled":
        await record(session, "order.cancelled", company_id=order.company_id, subject=subject,
                     data={**base, "from_status": from_status})  # fmt: skip
    elif to == "delivered":
        await record(session, "order.delivered", company_id=order.company_id, subject=subject,
                     data=base)  # fmt: skip


async def invoice_issued(session: AsyncSession, invoice: Invoice) -> None:
    data = {"invoice_id": invoice.id, "number": invoice.number, "total": invoice.total,
            "order_id": invoice.order_id}  # fmt: skip
    await record(session, "invoice.issued", company_id=invoice.company_id,
                 subject=("invoice", invoice.id), data=data)  # fmt: skip


async def payment_recorded(session: AsyncSession, invoice: Invoice, payment: Payment) -> None:
    """``payment.succeeded``, and ``invoice.paid`` when it settled the invoice."""
    await record(
        session, "payment.succeeded", company_id=payment.company_id,
        subject=("invoice", invoice.id),
        data={"payment_id": payment.id, "invoice_id": invoice.id, "amount": payment.amount,
              "method": _value(payment.method)},
    )  # fmt: skip
    if invoice.status.value == "paid":
        await record(
            session, "invoice.paid", company_id=invoice.company_id,
            subject=("invoice", invoice.id),
            data={"invoice_id": invoice.id, "number": invoice.number,
                  "amount_paid": invoice.amount_paid},
        )  # fmt: skip


async def payment_failed(
    session: AsyncSession, invoice: Invoice, amount: Decimal, reason: str
) -> Event:
    """``payment.failed``: an attempt to pay ``amount`` on ``invoice`` was declined."""
    return await record(
        session, "payment.failed", company_id=invoice.company_id, subject=("invoice", invoice.id),
        data={"invoice_id": invoice.id, "amount": amount, "reason": reason},
    )  # fmt: skip


async def product_changed(
    session: AsyncSession, product: Product, old_price: Decimal, old_stock: int
) -> None:
    """``product.price_changed`` when the price moved; ``product.out_of_stock`` or
    ``.low_stock`` when the stock just fell to zero or to its reorder threshold."""
    subject = ("product", product.id)
    base = {"product_id": product.id, "sku": product.sku}
    if product.price != old_price:
        await record(session, "product.price_changed", company_id=product.company_id,
                     subject=subject,
                     data={**base, "old_price": old_price, "new_price": product.price})  # fmt: skip
    await stock_changed(session, product, old_stock)


async def stock_changed(session: AsyncSession, product: Product, old_stock: int) -> None:
    stock, level = product.stock, product.reorder_threshold
    if stock == old_stock:
        return
    kind = None
    if stock <= 0 < old_stock:
        kind = "product.out_of_stock"
    elif 0 < stock <= level < old_stock:
        kind = "product.low_stock"
    if kind is not None:
        data = {"product_id": product.id, "sku": product.sku, "stock": stock,
                "reorder_threshold": level}  # fmt: skip
        await record(session, kind, company_id=product.company_id,
                     subject=("product", product.id), data=data)  # fmt: skip


async def company_created(session: AsyncSession, company: Company) -> None:
    data = {"company_id": company.id, "name": company.name, "kind": _value(company.kind)}
    await record(session, "company.created", company_id=company.id,
                 subject=("company", company.id), data=data)  # fmt: skip


async def user_created(session: AsyncSession, user: User) -> None:
    data = {"user_id": user.id, "email": user.email, "role": _value(user.role)}
    await record(session, "user.created", company_id=user.company_id,
                 subject=("user", user.id), data=data)  # fmt: skip


async def user_role_changed(session: AsyncSession, user: User, from_role: str) -> None:
    data = {"user_id": user.id, "from_role": from_role, "to_role": _value(user.role)}
    await record(session, "user.role_changed", company_id=user.company_id,
                 subject=("user", user.id), data=data)  # fmt: skip


async def logged_in(session: AsyncSession, user: User, method: str = "password") -> None:
    await record(session, "user.logged_in", company_id=user.company_id,
                 subject=("user", user.id), data={"user_id": user.id, "method": method},
                 actor=Actor.user(user.id))  # fmt: skip


async def login_failed(
    session: AsyncSession, email: str, reason: str, user: User | None = None
) -> None:
    """A refused login: the company's event when the email is a user's, else a platform one."""
    await record(
        session, "user.login_failed", company_id=user.company_id if user else None,
        subject=("user", user.id if user else email[:64]),
        data={"email": email[:200], "reason": reason}, actor=Actor.system(),
    )  # fmt: skip


async def connection_event(
    session: AsyncSession, connection: MarketplaceConnection, what: str
) -> None:
    """``marketplace.connection.<what>``, in the company that acted (the requester for a request,
    the target for an answer)."""
    acting = (
        connection.requester_company_id if what == "requested" else connection.target_company_id
    )
    data = {
        "connection_id": connection.id,
        "requester_company_id": connection.requester_company_id,
        "target_company_id": connection.target_company_id,
    }
    await record(session, f"marketplace.connection.{what}", company_id=acting,
                 subject=("marketplace_connection", connection.id), data=data)  # fmt: skip
