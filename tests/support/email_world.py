"""A small ILS world for the email tests: a lab and a practice, their admins, an order with
lines and Rx (its customer named like a script tag), a supplier, a purchase order, a connection."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from ils.domain.db import Database
from ils.domain.models import (
    Company,
    CompanyKind,
    LineKind,
    MarketplaceConnection,
    Order,
    OrderLine,
    Product,
    ProductKind,
    PurchaseOrder,
    PurchaseOrderLine,
    Role,
    Supplier,
    User,
)

XSS_NAME = "<script>alert(1)</script> Smith"


@dataclass
class World:
    lab: Company
    practice: Company
    user: User
    order: Order
    supplier: Supplier
    po: PurchaseOrder
    connection: MarketplaceConnection


async def make_world(db: Database) -> World:
    async with db.session() as s:
        lab = Company(
            name="Clearview Lab",
            slug="clearview",
            kind=CompanyKind.lab,
            email="lab@example.com",
            brand_color="#aa3300",
        )
        practice = Company(name="Bright Eyes", slug="bright", kind=CompanyKind.practice)
        s.add_all([lab, practice])
        await s.flush()
        user = User(
            company_id=lab.id,
            email="owner@example.com",
            name="Olive Owner",
            password_hash="x",
            role=Role.company_admin,
        )
        s.add_all(
            [
                user,
                User(
                    company_id=practice.id,
                    email="boss@example.org",
                    name="Bo",
                    password_hash="x",
                    role=Role.company_admin,
                ),
            ]
        )
        order = Order(
            company_id=lab.id,
            number="ORD-000042",
            customer_name=XSS_NAME,
            right_sphere=Decimal("-2.25"),
            right_cylinder=Decimal("-0.50"),
            right_axis=90,
            pd_binocular=Decimal("63.0"),
            subtotal=Decimal("1429.00"),
            tax=Decimal("114.32"),
            total=Decimal("1543.32"),
            due_date=dt.date(2026, 12, 24),
        )
        order.lines = [
            OrderLine(
                kind=LineKind.lens,
                description="SV 1.67 AR",
                quantity=2,
                unit_price=Decimal("89.50"),
                line_total=Decimal("179.00"),
            ),
            OrderLine(
                kind=LineKind.frame,
                description="Titan frame",
                quantity=1,
                unit_price=Decimal("1250"),
                line_total=Decimal("1250.00"),
            ),
        ]
        supplier = Supplier(company_id=lab.id, name="Lens Supply Co", email="orders@example.net")
        s.add_all([order, supplier])
        await s.flush()
        product = Product(
            company_id=lab.id,
            sku="SV167",
            name="SV 1.67 blank",
            kind=ProductKind.lens,
            price=Decimal("40"),
            supplier_id=supplier.id,
        )
        s.add(product)
        await s.flush()
        po = PurchaseOrder(
            company_id=lab.id, supplier_id=supplier.id, number="PO-000007", total=Decimal("300.00")
        )
        po.lines = [
            PurchaseOrderLine(
                product_id=product.id,
                quantity=20,
                unit_cost=Decimal("15"),
                line_total=Decimal("300"),
            )
        ]
        connection = MarketplaceConnection(
            requester_company_id=lab.id, target_company_id=practice.id, message="Let's work"
        )
        s.add_all([po, connection])
    return World(lab, practice, user, order, supplier, po, connection)  # fmt: skip
