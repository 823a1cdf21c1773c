"""A company's catalogue: its products (lenses, frames, coatings, accessories) with prices and
stock, and the suppliers it buys them from. SKUs and supplier names are unique per company."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from ils.domain.enums import ProductKind
from ils.domain.models.catalog import Product, Supplier
from ils.domain.services import (
    Count,
    Email,
    NonNegativeAmount,
    Paged,
    RowId,
    Text40,
    Text60,
    Text200,
    Window,
    added,
    changed,
    not_null,
    paged,
    where_given,
)
from ils.errors import Conflict, Invalid

LeadTime = Annotated[int, Field(ge=0, le=365, description="days from order to delivery")]
LensIndex = Annotated[
    Decimal,
    Field(ge=Decimal("1.40"), le=Decimal("2.00"), decimal_places=2),
    AfterValidator(lambda value: value.quantize(Decimal("0.01"))),
]


class SupplierCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Text200
    email: Email | None = Field(None, description="where purchase orders are emailed")
    phone: Text40 | None = None
    lead_time_days: LeadTime = 7


class SupplierUpdate(BaseModel):
    """A partial update: only the fields sent change; ``null`` clears an optional one."""

    model_config = ConfigDict(extra="forbid")

    name: Text200 | None = None
    email: Email | None = None
    phone: Text40 | None = None
    lead_time_days: LeadTime | None = None

    _required = field_validator("name", "lead_time_days")(not_null)


class ProductCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sku: Text40
    name: Text200
    kind: ProductKind
    supplier_id: RowId | None = None
    price: NonNegativeAmount
    cost: NonNegativeAmount = Decimal("0.00")
    stock: Count = 0
    reorder_threshold: Count = 0
    material: Text60 | None = None
    design: Text60 | None = None
    lens_index: LensIndex | None = None
    active: bool = True


class ProductUpdate(BaseModel):
    """A partial update: only the fields sent change; ``null`` clears an optional one."""

    model_config = ConfigDict(extra="forbid")

    sku: Text40 | None = None
    name: Text200 | None = None
    kind: ProductKind | None = None
    supplier_id: RowId | None = None
    price: NonNegativeAmount | None = None
    cost: NonNegativeAmount | None = None
    stock: Count | None = None
    reorder_threshold: Count | None = None
    material: Text60 | None = None
    design: Text60 | None = None
    lens_index: LensIndex | None = None
    active: bool | None = None

    _required = field_validator(
        "sku", "name", "kind", "price", "cost", "stock", "reorder_threshold", "active"
    )(not_null)


# ---- lookups other services share -----------------------------------------------------------


async def company_supplier(
    session: AsyncSession, company_id: int, supplier_id: int, field: str = "supplier_id"
) -> Supplier:
    """The company's supplier ``supplier_id``; :class:`Invalid` naming ``field`` otherwise."""
    supplier = await session.get(Supplier, supplier_id)
    if supplier is None or supplier.company_id != company_id:
        raise Invalid(field, f"no supplier {supplier_id} in this company")
    return supplier


async def company_products(
    session: AsyncSession, company_id: int, ids: Iterable[int]
) -> dict[int, Product]:
    """The company's products among ``ids``, by id (another company's ids are left out)."""
    wanted = set(ids)
    if not wanted:
        return {}
    rows = await session.scalars(
        select(Product).where(Product.id.in_(wanted), Product.company_id == company_id)
    )
    return {product.id: product for product in rows}


async def _check_unique(
    session: AsyncSession,
    column: InstrumentedAttribute[str],
    company_id: int,
    value: str,
    other_than: int | None,
    taken: str,
) -> None:
    """A :class:`Conflict` saying ``taken`` when another row of the company has ``value``."""
    model = column.class_
    stmt = select(model.id).where(model.company_id == company_id, column == value)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None and found != other_than:
        raise Conflict(taken)


# ---- suppliers ------------------------------------------------------------------------------


async def _check_supplier_name(
    session: AsyncSession, company_id: int, name: str, other_than: int | None = None
) -> None:
    taken = f"a supplier named {name!r} already exists"
    await _check_unique(session, Supplier.name, company_id, name, other_than, taken)


async def list_suppliers(
    session: AsyncSession, company_id: int, window: Window, search: str | None = None
) -> Paged[Supplier]:
    stmt = select(Supplier).where(Supplier.company_id == company_id)
    if search:
        stmt = stmt.where(Supplier.name.icontains(search, autoescape=True))
    return await paged(session, stmt.order_by(Supplier.name, Supplier.id), window)


async def create_supplier(session: AsyncSession, company_id: int, data: SupplierCreate) -> Supplier:
    await _check_supplier_name(session, company_id, data.name)
    return await added(session, Supplier(company_id=company_id, **data.model_dump()))


async def update_supplier(
    session: AsyncSession, supplier: Supplier, data: SupplierUpdate
) -> Supplier:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes:
        await _check_supplier_name(session, supplier.company_id, changes["name"], supplier.id)
    return await changed(session, supplier, changes)


# ---- products -------------------------------------------------------------------------------


async def _check_sku(
    session: AsyncSession, company_id: int, sku: str, other_than: int | None = None
) -> None:
    taken = f"a product with SKU {sku!r} already exists"
    await _check_unique(session, Product.sku, company_id, sku, other_than, taken)


async def list_products(
    session: AsyncSession,
    company_id: int,
    window: Window,
    *,
    kind: ProductKind | None = None,
    search: str | None = None,
    low_stock: bool = False,
    supplier_id: int | None = None,
) -> Paged[Product]:
    """A company's products by SKU. ``search`` matches SKU or name; ``low_stock`` keeps those at
    or below their reorder threshold."""
    stmt = select(Product).where(Product.company_id == company_id)
    stmt = where_given(stmt, (Product.kind, kind), (Product.supplier_id, supplier_id))
    if search:
        stmt = stmt.where(
            Product.sku.icontains(search, autoescape=True)
            | Product.name.icontains(search, autoescape=True)
        )
    if low_stock:
        stmt = stmt.where(Product.stock <= Product.reorder_threshold)
    return await paged(session, stmt.order_by(Product.sku, Product.id), window)


async def create_product(session: AsyncSession, company_id: int, data: ProductCreate) -> Product:
    if data.supplier_id is not None:
        await company_supplier(session, company_id, data.supplier_id)
    await _check_sku(session, company_id, data.sku)
    return await added(session, Product(company_id=company_id, **data.model_dump()))


async def update_product(session: AsyncSession, product: Product, data: ProductUpdate) -> Product:
    changes = data.model_dump(exclude_unset=True)
    if changes.get("supplier_id") is not None:
        await company_supplier(session, product.company_id, changes["supplier_id"])
    if "sku" in changes:
        await _check_sku(session, product.company_id, changes["sku"], product.id)
    return await changed(session, product, changes)
