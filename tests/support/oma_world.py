"""A small world for the OMA tests: a lab with an owner and order ORD-000042 (Rx and frame),
and another company with an order of the same number."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from ils.domain.db import Database
from ils.domain.models import Company, CompanyKind, Order, Role, User


@dataclass(frozen=True)
class OmaWorld:
    lab_id: int
    owner_id: int
    order_id: int
    other_id: int
    other_order_id: int


async def make_oma_world(db: Database) -> OmaWorld:
    async with db.session() as s:
        lab = Company(name="Clearview Lab", slug="clearview", kind=CompanyKind.lab)
        other = Company(name="Other Optics", slug="other", kind=CompanyKind.lab)
        s.add_all([lab, other])
        await s.flush()
        owner = User(company_id=lab.id, email="tech@clearview.example", name="Tess Tech",
                     password_hash="x", role=Role.lab_technician)  # fmt: skip
        s.add(owner)
        await s.flush()
        order = Order(company_id=lab.id, number="ORD-000042", customer_name="Ann Smith",
                      created_by_user_id=owner.id, right_sphere=Decimal("-2.25"),
                      right_cylinder=Decimal("-0.50"), right_axis=90,
                      left_sphere=Decimal("-1.75"), pd_binocular=Decimal("63.00"),
                      frame_a=Decimal("50.00"), frame_b=Decimal("50.00"),
                      frame_dbl=Decimal("18.00"), frame_ed=Decimal("50.00"))  # fmt: skip
        theirs = Order(company_id=other.id, number="ORD-000042", customer_name="Bob Other")
        s.add_all([order, theirs])
        await s.flush()
        return OmaWorld(lab.id, owner.id, order.id, other.id, theirs.id)
