"""Loading each document's data from the database into its plain-data model, on the worker's
event loop; a row that no longer exists gives up the job with a clear reason (no retry)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import bindparam, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from ils.domain.models import (
    Company,
    DocumentType,
    Examination,
    Invoice,
    InvoiceLine,
    LineKind,
    OmaFile,
    Order,
    Patient,
    Payment,
    Product,
    User,
)
from ils.domain.models.rx import RxColumns
from ils.jobs.pdf import content as m
from ils.jobs.rows import gone, need


@dataclass(frozen=True)
class Loaded:
    """A document ready to render, with what its stored file and row need."""

    doc: m.Document
    company_id: int
    entity_id: int
    reference: str


BRAND_COLUMNS = (Company.name, Company.address, Company.email, Company.phone, Company.brand_color)


def brand_of(name: str, *details: str | None) -> m.Brand:
    """The letterhead from a company's name, address, email, phone and colour columns."""
    *lines, color = details
    return m.Brand(m.Party(name, tuple(x for x in lines if x)), color or "#1f5f8b")


async def brand(session: AsyncSession, company_id: int) -> m.Brand:
    c = await need(session, Company, company_id, "company")
    return brand_of(c.name, c.address, c.email, c.phone, c.brand_color)


def rx_of(row: RxColumns, acuity: tuple[str | None, str | None] = (None, None)) -> m.Rx:
    def eye(side: str, va: str | None) -> m.EyeRx:
        base = getattr(row, f"{side}_prism_base")
        return m.EyeRx(
            sphere=getattr(row, f"{side}_sphere"),
            cylinder=getattr(row, f"{side}_cylinder"),
            axis=getattr(row, f"{side}_axis"),
            add=getattr(row, f"{side}_add"),
            prism=getattr(row, f"{side}_prism"),
            prism_base=base.value if base is not None else None,
            acuity=va,
            pd=getattr(row, f"pd_{side}"),
        )

    return m.Rx(eye("right", acuity[0]), eye("left", acuity[1]), row.pd_binocular)


def _frame(order: Order) -> m.Frame:
    return m.Frame(order.frame_a, order.frame_b, order.frame_dbl, order.frame_ed)


def _lines(order: Order) -> tuple[m.Line, ...]:
    return tuple(
        m.Line(x.description, x.quantity, x.unit_price, x.line_total, x.kind.value,
               x.eye.value if x.eye else "")
        for x in order.lines
    )  # fmt: skip


async def _customer(session: AsyncSession, order: Order) -> m.Party:
    if order.patient_id is None:
        return m.Party(order.customer_name)
    patient = await session.get(Patient, order.patient_id)
    if patient is None or patient.full_name == order.customer_name:
        return m.Party(order.customer_name)
    return m.Party(order.customer_name, (f"Patient: {patient.full_name}",))


async def order_sheet(session: AsyncSession, order_id: int) -> Loaded:
    order = await need(session, Order, order_id, "order")
    doc = m.OrderSheet(
        brand=await brand(session, order.company_id),
        number=order.number,
        customer=await _customer(session, order),
        created=order.created_at.date(),
        due=order.due_date,
        status=order.status.value,
        lines=_lines(order),
        rx=rx_of(order),
        frame=_frame(order),
        totals=m.Totals(order.subtotal, order.tax, order.total),
        instructions=order.special_instructions,
    )
    return Loaded(doc, order.company_id, order.id, order.number)


async def lab_work_ticket(session: AsyncSession, order_id: int) -> Loaded:
    order = await need(session, Order, order_id, "order")
    ids = [x.product_id for x in order.lines if x.product_id is not None]
    products = {p.id: p for p in await session.scalars(select(Product).where(Product.id.in_(ids)))}
    lenses = []
    for line in order.lines:
        if line.kind is not LineKind.lens:
            continue
        product = products.get(line.product_id) if line.product_id is not None else None
        lenses.append(
            m.LensSpec(
                description=line.description,
                eye=line.eye.value if line.eye else "",
                material=product.material if product else None,
                design=product.design if product else None,
                lens_index=product.lens_index if product else None,
            )
        )

    def described(kind: LineKind) -> tuple[str, ...]:
        return tuple(x.description for x in order.lines if x.kind is kind)

    doc = m.LabTicket(
        brand=await brand(session, order.company_id),
        number=order.number,
        tray=order.tray_number,
        customer=order.customer_name,
        created=order.created_at.date(),
        due=order.due_date,
        rx=rx_of(order),
        frame=_frame(order),
        lenses=tuple(lenses),
        coatings=described(LineKind.coating),
        frame_lines=described(LineKind.frame),
        instructions=order.special_instructions,
        shape=await _shape(session, order.id),
    )
    return Loaded(doc, order.company_id, order.id, order.number)


async def _shape(session: AsyncSession, order_id: int) -> m.Shape | None:
    """The frame shape of the order's newest OMA file, when it has one with a trace."""
    from ils.jobs.pdf.shape import shape_of

    newest = (
        await session.execute(
            select(OmaFile.traces, OmaFile.data)
            .where(OmaFile.order_id == order_id)
            .order_by(OmaFile.created_at.desc(), OmaFile.id.desc())
            .limit(1)
        )
    ).first()
    if newest is None:
        return None
    traces, data = newest
    return shape_of(data, traces)


# An invoice with its order's number and the letterhead, and its lines: plain columns, built
# once, run on the session's connection (see _RECEIPT).
_INVOICE = (
    select(
        *Invoice.__table__.c,
        select(Order.number).where(Order.id == Invoice.order_id).scalar_subquery()
        .label("order_number"),
        *(column.label(f"brand_{column.key}") for column in BRAND_COLUMNS),
    )
    .join(Company, Company.id == Invoice.company_id)
    .where(Invoice.id == bindparam("invoice_id"))
)  # fmt: skip
_INVOICE_LINES = (
    select(InvoiceLine.description, InvoiceLine.quantity, InvoiceLine.unit_price,
           InvoiceLine.line_total)
    .where(InvoiceLine.invoice_id == bindparam("invoice_id"))
    .order_by(InvoiceLine.id)
)  # fmt: skip


async def invoice(session: AsyncSession, invoice_id: int) -> Loaded:
    conn = await session.connection()
    row = (await conn.execute(_INVOICE, {"invoice_id": invoice_id})).first()
    if row is None:
        await gone(session, Invoice, invoice_id, "invoice", (Company, "company_id", "company"))
    lines = (await conn.execute(_INVOICE_LINES, {"invoice_id": invoice_id})).all()
    address = tuple(x.strip() for x in (row.billing_address or "").splitlines() if x.strip())
    doc = m.InvoiceDoc(
        brand=brand_of(row.brand_name, row.brand_address, row.brand_email, row.brand_phone,
                       row.brand_brand_color),
        number=row.number,
        bill_to=m.Party(row.billing_name, address),
        issued=row.issued_at.date() if row.issued_at else None,
        due=row.due_date,
        order_number=row.order_number,
        lines=tuple(m.Line(*line) for line in lines),
        totals=m.Totals(row.subtotal, row.tax, row.total, row.tax_rate),
        amount_paid=row.amount_paid,
        balance_due=row.total - row.amount_paid,
        payment_terms=row.payment_terms,
        status=row.status.value,
    )  # fmt: skip
    return Loaded(doc, row.company_id, row.id, row.number)


def receipt_number(payment_id: int) -> str:
    return f"RCT-{payment_id:06d}"


_EARLIER = aliased(Payment)
# A receipt's payment, invoice, letterhead and the balance as this payment left it (whatever was
# paid after it), as plain columns: built once, run on the session's connection (Core rows cost
# far less than ORM entities, and receipts are small: the load is most of the job).
_RECEIPT = (
    select(
        Payment.id, Payment.company_id, Payment.amount, Payment.method, Payment.paid_at,
        Payment.reference, Invoice.number, Invoice.billing_name, Invoice.total,
        select(func.coalesce(func.sum(_EARLIER.amount), 0))
        .where(_EARLIER.invoice_id == Payment.invoice_id, _EARLIER.id <= Payment.id)
        .scalar_subquery(),
        *BRAND_COLUMNS,
    )
    .join(Invoice, Invoice.id == Payment.invoice_id)
    .join(Company, Company.id == Payment.company_id)
    .where(Payment.id == bindparam("payment_id"))
)  # fmt: skip


async def receipt(session: AsyncSession, payment_id: int) -> Loaded:
    # One round trip for the payment, its invoice, the letterhead and the balance as this payment
    # left it (whatever was paid after it): receipts are small, the load is most of the job.
    found = (
        await (await session.connection()).execute(_RECEIPT, {"payment_id": payment_id})
    ).first()
    if found is None:
        # Which one is gone, for the job's failure reason.
        parents = (Invoice, "invoice_id", "invoice"), (Company, "company_id", "company")
        await gone(session, Payment, payment_id, "payment", *parents)
    (pay_id, company_id, amount, method, paid_at, reference, invoice_number, billing_name,
     invoice_total, paid_sum, *brand) = found  # fmt: skip
    paid_to_date = paid_sum if isinstance(paid_sum, Decimal) else Decimal(paid_sum or 0)
    number = receipt_number(pay_id)
    doc = m.ReceiptDoc(
        brand=brand_of(*brand),
        number=number,
        invoice_number=invoice_number,
        received_from=m.Party(billing_name),
        paid_at=paid_at,
        method=method.value,
        reference=reference,
        amount=amount,
        invoice_total=invoice_total,
        paid_to_date=paid_to_date,
        balance_remaining=invoice_total - paid_to_date,
    )
    return Loaded(doc, company_id, pay_id, number)


def examination_reference(examination_id: int) -> str:
    return f"EXM-{examination_id:06d}"


async def examination_form(session: AsyncSession, examination_id: int) -> Loaded:
    # The examination, its patient, the examiner's name and the letterhead in one round trip.
    found = (
        await session.execute(
            select(Examination, Patient, User.name, *BRAND_COLUMNS)
            .join(Patient, Patient.id == Examination.patient_id)
            .join(Company, Company.id == Examination.company_id)
            .outerjoin(User, User.id == Examination.examiner_user_id)
            .where(Examination.id == examination_id)
        )
    ).first()
    if found is None:
        parents = (Patient, "patient_id", "patient"), (Company, "company_id", "company")
        await gone(session, Examination, examination_id, "examination", *parents)
    exam, patient, examiner, *brand = found
    born = f"Born {patient.date_of_birth:%d %b %Y}" if patient.date_of_birth else None
    reference = examination_reference(exam.id)
    doc = m.ExaminationDoc(
        brand=brand_of(str(brand[0]), *brand[1:]),
        number=reference,
        patient=m.Party(patient.full_name, tuple(x for x in (born, patient.phone) if x)),
        examined=exam.examined_at,
        examiner=examiner,
        rx=rx_of(exam, (exam.right_va, exam.left_va)),
        notes=exam.notes,
        recall_due=exam.recall_due,
    )
    return Loaded(doc, exam.company_id, exam.id, reference)


LOADERS: dict[DocumentType, Callable[[AsyncSession, int], Awaitable[Loaded]]] = {
    DocumentType.order_sheet: order_sheet,
    DocumentType.invoice: invoice,
    DocumentType.receipt: receipt,
    DocumentType.lab_work_ticket: lab_work_ticket,
    DocumentType.examination_form: examination_form,
}
