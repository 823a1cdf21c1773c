"""A small ILS world for the PDF tests: a lab with an order (Rx, frame, lens products, coatings,
a customer named in Greek), an invoice with a part payment, a patient named in Cyrillic with an
examination; and a long order to see pages flow."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from ils.domain.db import Database
from ils.domain.models import (
    Company,
    CompanyKind,
    Examination,
    Eye,
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    LineKind,
    Order,
    OrderLine,
    Patient,
    Payment,
    PaymentMethod,
    PrismBase,
    Product,
    ProductKind,
    Role,
    User,
)

CUSTOMER = "Ελένη Παπαδοπούλου"
PATIENT_FIRST, PATIENT_LAST = "Дмитрий", "Иванов"
LONG_INSTRUCTIONS = " ".join(f"Check step {n} twice before edging." for n in range(1, 80))


@dataclass
class PdfWorld:
    lab_id: int
    order_id: int
    order_number: str
    invoice_id: int
    payment_id: int
    examination_id: int


async def make_pdf_world(db: Database, slug: str = "clearview") -> PdfWorld:
    async with db.session() as s:
        lab = Company(name="Clearview Lab", slug=slug, kind=CompanyKind.lab,
                      address="12 Optic Street, Leeds", email="lab@example.com",
                      brand_color="#aa3300")  # fmt: skip
        s.add(lab)
        await s.flush()
        examiner = User(company_id=lab.id, email=f"optom@{slug}.example", name="Dr Ada Lens",
                        password_hash="x", role=Role.optometrist)  # fmt: skip
        lens = Product(company_id=lab.id, sku="PC167", name="Poly 1.67", kind=ProductKind.lens,
                       price=Decimal("89.50"), material="Polycarbonate",
                       design="Progressive", lens_index=Decimal("1.67"))  # fmt: skip
        patient = Patient(company_id=lab.id, first_name=PATIENT_FIRST, last_name=PATIENT_LAST,
                          date_of_birth=dt.date(1980, 3, 14))  # fmt: skip
        s.add_all([examiner, lens, patient])
        await s.flush()
        order = Order(
            company_id=lab.id, number="ORD-000042", customer_name=CUSTOMER,
            right_sphere=Decimal("-2.25"), right_cylinder=Decimal("-0.50"), right_axis=90,
            right_add=Decimal("2.00"), left_sphere=Decimal("-1.75"), left_add=Decimal("2.00"),
            left_prism=Decimal("1.50"), left_prism_base=PrismBase.in_,
            pd_binocular=Decimal("63.00"), frame_a=Decimal("52.00"), frame_b=Decimal("38.50"),
            frame_dbl=Decimal("18.00"), frame_ed=Decimal("56.00"), tray_number="T-17",
            due_date=dt.date(2026, 12, 24), special_instructions=LONG_INSTRUCTIONS,
            subtotal=Decimal("1428.99"), tax=Decimal("114.32"), total=Decimal("1543.31"),
        )  # fmt: skip
        order.lines = [
            OrderLine(kind=LineKind.lens, description="Poly 1.67 progressive", quantity=2,
                      unit_price=Decimal("89.50"), line_total=Decimal("179.00"),
                      product_id=lens.id, eye=Eye.both),
            OrderLine(kind=LineKind.frame, description="Titan frame 52-18", quantity=1,
                      unit_price=Decimal("1224.99"), line_total=Decimal("1224.99")),
            OrderLine(kind=LineKind.coating, description="Anti-reflective coating", quantity=1,
                      unit_price=Decimal("25.00"), line_total=Decimal("25.00")),
        ]  # fmt: skip
        s.add(order)
        await s.flush()
        invoice = Invoice(
            company_id=lab.id, order_id=order.id, number="INV-000007",
            status=InvoiceStatus.issued, issued_at=dt.datetime(2026, 11, 28, 9, tzinfo=dt.UTC),
            due_date=dt.date(2026, 12, 28), billing_name="Dana Whitfield",
            billing_address="1 High Street\nLeeds LS1 1AA", subtotal=Decimal("99.99"),
            tax_rate=Decimal("8.875"), tax=Decimal("8.87"), total=Decimal("108.86"),
            amount_paid=Decimal("50.00"), payment_terms="Net 30 days by bank transfer.",
        )  # fmt: skip
        invoice.lines = [
            InvoiceLine(description="SV 1.60 lens", quantity=3, unit_price=Decimal("33.33"),
                        line_total=Decimal("99.99")),
        ]  # fmt: skip
        s.add(invoice)
        await s.flush()
        payment = Payment(company_id=lab.id, invoice_id=invoice.id, amount=Decimal("50.00"),
                          method=PaymentMethod.bank_transfer, reference="BACS-9911",
                          paid_at=dt.datetime(2026, 11, 29, 14, 5, tzinfo=dt.UTC))  # fmt: skip
        exam = Examination(
            company_id=lab.id, patient_id=patient.id, examiner_user_id=examiner.id,
            examined_at=dt.datetime(2026, 11, 20, 10, 30, tzinfo=dt.UTC),
            right_sphere=Decimal("-2.25"), right_cylinder=Decimal("-0.50"), right_axis=90,
            left_sphere=Decimal("-1.75"), right_va="6/6", left_va="6/9",
            pd_right=Decimal("31.50"), pd_left=Decimal("31.00"),
            notes="Reports glare when driving at night.", recall_due=dt.date(2027, 11, 20),
        )  # fmt: skip
        s.add_all([payment, exam])
        await s.flush()
        return PdfWorld(lab.id, order.id, order.number, invoice.id, payment.id, exam.id)


async def make_long_order(db: Database, company_id: int, lines: int = 60) -> int:
    """An order of ``lines`` lines, each 1 x 10.01 more than the last, on company ``company_id``."""
    async with db.session() as s:
        order = Order(company_id=company_id, number="ORD-000060", customer_name="Long Order Ltd")
        order.lines = [
            OrderLine(kind=LineKind.service, description=f"Line item number {n:02d}",
                      quantity=1, unit_price=Decimal("10.01") * n,
                      line_total=Decimal("10.01") * n)
            for n in range(1, lines + 1)
        ]  # fmt: skip
        total = sum((x.line_total for x in order.lines), Decimal(0))
        order.subtotal, order.tax, order.total = total, Decimal("0.00"), total
        s.add(order)
        await s.flush()
        return order.id
