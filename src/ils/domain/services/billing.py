"""Invoices and the payments that settle them: drafting an invoice from lines or from an order,
issuing it (its PDF goes to the queue), emailing it with its PDF attached (a flow: the PDF, then
the email), recording payments (each with a receipt PDF).

Amounts are exact: a line's total is quantity times unit price, tax is rounded half-up to the
cent, and a payment may never take the amount paid past the total.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Order,
    OrderStatus,
    Payment,
    PaymentMethod,
    invoice_number,
)
from ils.domain.models.events import Event
from ils.domain.models.shared import SoldLine
from ils.domain.models.types import to_money, utcnow
from ils.domain.services import (
    MAX_MONEY,
    LongText,
    NonNegativeAmount,
    Paged,
    PositiveAmount,
    Quantity,
    QueuedJob,
    RowId,
    Text100,
    Text200,
    Text300,
    Window,
    added,
    company_page,
    line_total,
    next_sequence,
    updated_if,
)
from ils.domain.services.catalog import company_products
from ils.errors import Conflict, Invalid
from ils.events import emit
from ils.jobs.helpers import queue_invoice_email_flow, queue_invoice_pdf, queue_receipt_pdf

RATE_QUANTUM = Decimal("0.001")
TaxRate = Annotated[
    Decimal,
    Field(ge=0, le=100, decimal_places=3, description="percent, e.g. 20 or 8.875"),
    AfterValidator(lambda value: value.quantize(RATE_QUANTUM)),
]
CLOCK_SKEW = dt.timedelta(minutes=5)


class InvoiceLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: RowId | None = None
    description: Text300 | None = Field(None, description="defaults to the product's name")
    quantity: Quantity = 1
    unit_price: NonNegativeAmount | None = Field(
        None, description="defaults to the product's price"
    )


class InvoiceCreate(BaseModel):
    """An invoice of ``lines``, or of the order ``order_id`` (whose lines are copied)."""

    model_config = ConfigDict(extra="forbid")

    order_id: RowId | None = None
    lines: list[InvoiceLineIn] | None = Field(None, min_length=1, max_length=200)
    billing_name: Text200 | None = Field(None, description="defaults to the order's customer")
    billing_address: LongText | None = None
    due_date: dt.date | None = None
    tax_rate: TaxRate | None = Field(
        None, description="defaults to 0 for lines; for an order, to the order's own tax"
    )
    payment_terms: LongText | None = None


class PaymentCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmount = Field(description="more than 0, at most the balance due")
    method: PaymentMethod
    reference: Text100 | None = None
    paid_at: AwareDatetime | None = Field(None, description="defaults to now")


class PaymentFailure(BaseModel):
    """A payment attempt the processor or the bank declined: nothing is paid."""

    model_config = ConfigDict(extra="forbid")

    amount: PositiveAmount = Field(description="what was tried: more than 0, at most the balance")
    method: PaymentMethod
    reason: Annotated[Text200, Field(min_length=1)] = Field(
        description='why it failed, as the processor said, e.g. "card declined"'
    )
    reference: Text100 | None = None


async def _lines_given(
    session: AsyncSession, company_id: int, given: list[InvoiceLineIn]
) -> list[InvoiceLine]:
    products = await company_products(
        session, company_id, (ln.product_id for ln in given if ln.product_id is not None)
    )
    lines: list[InvoiceLine] = []
    for i, line in enumerate(given):
        product = products.get(line.product_id) if line.product_id is not None else None
        if line.product_id is not None and product is None:
            raise Invalid(("lines", i, "product_id"), f"no product {line.product_id} here")
        description = line.description or (product.name if product else None)
        if description is None:
            raise Invalid(("lines", i, "description"), "required for a line without a product")
        unit_price = line.unit_price
        if unit_price is None:
            if product is None:
                raise Invalid(("lines", i, "unit_price"), "required for a line without a product")
            unit_price = product.price
        lines.append(
            InvoiceLine(
                product_id=line.product_id,
                description=description,
                quantity=line.quantity,
                unit_price=unit_price,
                line_total=line_total(i, unit_price, line.quantity),
            )
        )
    return lines


async def _order_to_invoice(session: AsyncSession, company_id: int, order_id: int) -> Order:
    order = await session.get(Order, order_id)
    if order is None or order.company_id != company_id:
        raise Invalid("order_id", f"no order {order_id} in this company")
    if order.status is OrderStatus.cancelled:
        raise Conflict(f"order {order.number} is cancelled: it cannot be invoiced")
    if not order.lines:
        raise Invalid("order_id", f"order {order.number} has no lines to invoice")
    existing = await session.scalar(
        select(Invoice.number).where(
            Invoice.order_id == order.id, Invoice.status != InvoiceStatus.void
        )
    )
    if existing is not None:
        raise Conflict(f"order {order.number} is already invoiced ({existing})")
    return order


# What an invoice line copies of an order line: the columns of a line sold.
_COPIED = tuple(SoldLine.__annotations__)


def _order_lines(order: Order) -> list[InvoiceLine]:
    return [InvoiceLine(**{name: getattr(line, name) for name in _COPIED}) for line in order.lines]


def _tax(subtotal: Decimal, rate: Decimal | None, order: Order | None) -> tuple[Decimal, Decimal]:
    """(tax rate, tax): at ``rate`` rounded half-up to the cent; else the order's own tax."""
    if rate is not None:
        return rate, to_money(subtotal * rate / 100)
    if order is None or not order.tax:
        return Decimal("0.000"), Decimal("0.00")
    implied = (order.tax * 100 / subtotal).quantize(RATE_QUANTUM) if subtotal else None
    if implied is None or implied > 100:
        raise Invalid("tax_rate", f"order {order.number}'s tax implies no rate: give tax_rate")
    return implied, order.tax


async def create_invoice(session: AsyncSession, company_id: int, data: InvoiceCreate) -> Invoice:
    """A draft invoice of the company's ``data.lines`` or of its order ``data.order_id``."""
    if data.order_id is not None and data.lines is not None:
        raise Invalid("lines", "give either lines or order_id, not both")
    order: Order | None = None
    if data.order_id is not None:
        order = await _order_to_invoice(session, company_id, data.order_id)
        lines = _order_lines(order)
    elif data.lines is not None:
        lines = await _lines_given(session, company_id, data.lines)
    else:
        raise Invalid("lines", "give the invoice's lines, or the order_id to invoice")
    billing_name = data.billing_name or (order.customer_name if order else None)
    if billing_name is None:
        raise Invalid("billing_name", "required for an invoice of lines")
    subtotal = sum((line.line_total for line in lines), Decimal("0.00"))
    rate, tax = _tax(subtotal, data.tax_rate, order)
    if subtotal + tax > MAX_MONEY:
        raise Invalid("lines", f"the invoice's total exceeds {MAX_MONEY}")
    sequence = await next_sequence(session, Invoice.number, Invoice.company_id, company_id)
    invoice = Invoice(
        company_id=company_id,
        order_id=order.id if order else None,
        number=invoice_number(sequence),
        status=InvoiceStatus.draft,
        due_date=data.due_date,
        billing_name=billing_name,
        billing_address=data.billing_address,
        subtotal=subtotal,
        tax_rate=rate,
        tax=tax,
        total=subtotal + tax,
        amount_paid=Decimal("0.00"),
        payment_terms=data.payment_terms,
        lines=lines,
    )
    return await added(session, invoice)


class InvoiceFilter(BaseModel):
    """Which of a company's invoices a list keeps: those with each value given."""

    status: InvoiceStatus | None = None
    order_id: RowId | None = None


async def list_invoices(
    session: AsyncSession, company_id: int, window: Window, given: InvoiceFilter
) -> Paged[Invoice]:
    """A company's invoices, newest first."""
    filters = (Invoice.status, given.status), (Invoice.order_id, given.order_id)
    return await company_page(session, Invoice, company_id, window, *filters)


async def issue_invoice(session: AsyncSession, invoice: Invoice) -> QueuedJob:
    """Issue a draft and queue its PDF (relayed once the transaction commits)."""
    if invoice.status is not InvoiceStatus.draft:
        raise Conflict(f"invoice {invoice.number} is already {invoice.status.value}")
    draft = [Invoice.status == InvoiceStatus.draft]
    if not await updated_if(session, invoice, draft, status=InvoiceStatus.issued,
                            issued_at=utcnow()):  # fmt: skip
        raise Conflict(f"invoice {invoice.number} is already {invoice.status.value}")
    await emit.invoice_issued(session, invoice)
    return QueuedJob.of(
        await queue_invoice_pdf.using(company_id=invoice.company_id, session=session)(
            invoice_id=invoice.id
        )
    )


async def email_invoice(
    session: AsyncSession, invoice: Invoice, to: list[str] | None = None
) -> QueuedJob:
    """Email an issued invoice with its PDF attached: the ``invoice-email`` flow (the PDF is
    rendered first; the email waits for it, and is not sent without it). ``to`` defaults to the
    email of the order's patient. The job returned is the email, the flow's root."""
    if invoice.status in (InvoiceStatus.draft, InvoiceStatus.void):
        raise Conflict(f"invoice {invoice.number} is {invoice.status.value}: nothing to send")
    send = queue_invoice_email_flow.using(company_id=invoice.company_id, session=session)
    return QueuedJob.of(await send(invoice_id=invoice.id, to=to))


def _check_payable(invoice: Invoice, amount: Decimal) -> None:
    if invoice.status is InvoiceStatus.draft:
        raise Conflict(f"invoice {invoice.number} is a draft: issue it before recording payments")
    if invoice.status is not InvoiceStatus.issued:
        raise Conflict(f"invoice {invoice.number} is {invoice.status.value}: it takes no payments")
    if amount > invoice.balance_due:
        raise Invalid("amount", f"{amount} exceeds the balance due of {invoice.balance_due}")


async def record_payment(
    session: AsyncSession, invoice: Invoice, data: PaymentCreate
) -> tuple[Payment, QueuedJob]:
    """Record a payment on an issued invoice, mark it paid once settled, and queue a receipt."""
    paid_at = data.paid_at or utcnow()
    if paid_at > utcnow() + CLOCK_SKEW:
        raise Invalid("paid_at", "must not be in the future")
    _check_payable(invoice, data.amount)
    # One conditional UPDATE: two payments racing can never take the amount paid past the total.
    payable = [Invoice.status == InvoiceStatus.issued,
               Invoice.amount_paid + data.amount <= Invoice.total]  # fmt: skip
    if not await updated_if(session, invoice, payable,
                            amount_paid=Invoice.amount_paid + data.amount):  # fmt: skip
        _check_payable(invoice, data.amount)  # says what changed meanwhile
        raise Conflict(f"invoice {invoice.number} changed meanwhile: try again")
    if invoice.amount_paid == invoice.total:
        invoice.status = InvoiceStatus.paid
    given = data.model_dump(include={"amount", "method", "reference"})
    payment = Payment(
        company_id=invoice.company_id, invoice_id=invoice.id, paid_at=paid_at, **given
    )
    await added(session, payment)
    await emit.payment_recorded(session, invoice, payment)
    return payment, QueuedJob.of(
        await queue_receipt_pdf.using(company_id=payment.company_id, session=session)(
            payment_id=payment.id
        )
    )


async def record_failed_payment(
    session: AsyncSession, invoice: Invoice, data: PaymentFailure
) -> Event:
    """Record a declined payment attempt on an issued invoice (``payment.failed``, in the caller's
    transaction): the invoice is unchanged, the attempt is in its history. Checked as a payment
    would be: an invoice that takes no payments is a conflict, more than the balance is invalid."""
    _check_payable(invoice, data.amount)
    return await emit.payment_failed(session, invoice, data.amount, data.reason)


async def list_payments(session: AsyncSession, invoice: Invoice) -> list[Payment]:
    """The payments on ``invoice``, oldest first."""
    stmt = select(Payment).where(Payment.invoice_id == invoice.id).order_by(Payment.id)
    return list((await session.scalars(stmt)).all())
