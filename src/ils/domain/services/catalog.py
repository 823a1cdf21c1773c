"""A company's catalogue: its products (lenses, frames, coatings, accessories) with prices and
stock, and the suppliers it buys them from. SKUs and supplier names are unique per company."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.catalog import Product, ProductKind, Supplier
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
    paged,
)
from ils.domain.services.errors import Conflict, Invalid

LeadTime = Annotated[int, Field(ge=0, le=365, description="days from order to delivery")]
LensIndex = Annotated[
    Decimal,
    Field(ge=Decimal("1.40"), le=Decimal("2.00"), decimal_places=2),
    AfterValidator(lambda value: value.quantize(Decimal("0.01"))),
]


def _not_null(value: Any) -> Any:
    # Runs only for a value sent: leaving the field out keeps it, null may not clear it.
    if value is None:
        raise ValueError("may not be null")
    return value


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

    _required = field_validator("name", "lead_time_days")(_not_null)


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
    )(_not_null)


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


# ---- suppliers ------------------------------------------------------------------------------


async def _check_supplier_name(
    session: AsyncSession, company_id: int, name: str, other_than: int | None = None
) -> None:
    stmt = select(Supplier.id).where(Supplier.company_id == company_id, Supplier.name == name)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None and found != other_than:
        raise Conflict(f"a supplier named {name!r} already exists")


async def list_suppliers(
    session: AsyncSession, company_id: int, window: Window, search: str | None = None
) -> Paged[Supplier]:
    stmt = select(Supplier).where(Supplier.company_id == company_id)
    if search:
        stmt = stmt.where(Supplier.name.icontains(search, autoescape=True))
    return await paged(session, stmt.order_by(Supplier.name, Supplier.id), window)


async def create_supplier(session: AsyncSession, company_id: int, data: SupplierCreate) -> Supplier:
    await _check_supplier_name(session, company_id, data.name)
    supplier = Supplier(company_id=company_id, **data.model_dump())
    session.add(supplier)
    await session.flush()
    return supplier


async def update_supplier(
    session: AsyncSession, supplier: Supplier, data: SupplierUpdate
) -> Supplier:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes:
        await _check_supplier_name(session, supplier.company_id, changes["name"], supplier.id)
    for name, value in changes.items():
        setattr(supplier, name, value)
    await session.flush()
    return supplier


# ---- products -------------------------------------------------------------------------------


async def _check_sku(
    session: AsyncSession, company_id: int, sku: str, other_than: int | None = None
) -> None:
    stmt = select(Product.id).where(Product.company_id == company_id, Product.sku == sku)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None and found != other_than:
        raise Conflict(f"a product with SKU {sku!r} already exists")


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
    if kind is not None:
        stmt = stmt.where(Product.kind == kind)
    if search:
        stmt = stmt.where(
            Product.sku.icontains(search, autoescape=True)
            | Product.name.icontains(search, autoescape=True)
        )
    if low_stock:
        stmt = stmt.where(Product.stock <= Product.reorder_threshold)
    if supplier_id is not None:
        stmt = stmt.where(Product.supplier_id == supplier_id)
    return await paged(session, stmt.order_by(Product.sku, Product.id), window)


async def create_product(session: AsyncSession, company_id: int, data: ProductCreate) -> Product:
    if data.supplier_id is not None:
        await company_supplier(session, company_id, data.supplier_id)
    await _check_sku(session, company_id, data.sku)
    product = Product(company_id=company_id, **data.model_dump())
    session.add(product)
    await session.flush()
    return product


async def update_product(session: AsyncSession, product: Product, data: ProductUpdate) -> Product:
    changes = data.model_dump(exclude_unset=True)
    if changes.get("supplier_id") is not None:
        await company_supplier(session, product.company_id, changes["supplier_id"])
    if "sku" in changes:
        await _check_sku(session, product.company_id, changes["sku"], product.id)
    for name, value in changes.items():
        setattr(product, name, value)
    await session.flush()
    return product
