"""A company's catalogue: its products (lenses, frames, coatings, accessories) with prices and
stock, and the suppliers it buys them from. SKUs and supplier names are unique per company."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
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
    PartialUpdate,
    RowId,
    SearchText,
    Text40,
    Text60,
    Text200,
    Window,
    added,
    changed,
    paged,
    partial_update,
    where_given,
)
from ils.errors import Conflict, Invalid
from ils.events import emit

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


SupplierUpdate = partial_update("SupplierUpdate", SupplierCreate, "name", "lead_time_days")


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


ProductUpdate = partial_update(
    "ProductUpdate",
    ProductCreate,
    *("sku", "name", "kind", "price", "cost", "stock", "reorder_threshold", "active"),
)


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


# The values unique within a company, and what a clash on each says.
_TAKEN = {
    "suppliers.name": "a supplier named {!r} already exists",
    "products.sku": "a product with SKU {!r} already exists",
}


async def _check_unique(
    session: AsyncSession,
    column: InstrumentedAttribute[str],
    company_id: int,
    value: str,
    other_than: int | None = None,
) -> None:
    """A :class:`Conflict` when a row of the company other than ``other_than`` already has
    ``value`` in ``column`` (one of :data:`_TAKEN`)."""
    model = column.class_
    stmt = select(model.id).where(model.company_id == company_id, column == value)
    found = (await session.execute(stmt)).scalar_one_or_none()
    if found is not None and found != other_than:
        raise Conflict(_TAKEN[f"{model.__tablename__}.{column.key}"].format(value))


# ---- suppliers ------------------------------------------------------------------------------


class SupplierFilter(BaseModel):
    q: SearchText | None = None


async def list_suppliers(
    session: AsyncSession, company_id: int, window: Window, given: SupplierFilter
) -> Paged[Supplier]:
    """A company's suppliers by name; ``q`` keeps those whose name holds it."""
    stmt = select(Supplier).where(Supplier.company_id == company_id)
    if given.q:
        stmt = stmt.where(Supplier.name.icontains(given.q, autoescape=True))
    return await paged(session, stmt.order_by(Supplier.name, Supplier.id), window)


async def create_supplier(session: AsyncSession, company_id: int, data: SupplierCreate) -> Supplier:
    await _check_unique(session, Supplier.name, company_id, data.name)
    return await added(session, Supplier(company_id=company_id, **data.model_dump()))


async def update_supplier(
    session: AsyncSession, supplier: Supplier, data: PartialUpdate
) -> Supplier:
    changes = data.model_dump(exclude_unset=True)
    if "name" in changes:
        await _check_unique(
            session, Supplier.name, supplier.company_id, changes["name"], supplier.id
        )
    return await changed(session, supplier, changes)


# ---- products -------------------------------------------------------------------------------


class ProductFilter(BaseModel):
    """Which of a company's products a list keeps."""

    kind: ProductKind | None = None
    q: SearchText | None = None
    low_stock: bool = Field(False, description="only stock <= reorder threshold")
    supplier_id: RowId | None = None


async def list_products(
    session: AsyncSession, company_id: int, window: Window, given: ProductFilter
) -> Paged[Product]:
    """A company's products by SKU. ``q`` matches SKU or name; ``low_stock`` keeps those at or
    below their reorder threshold."""
    stmt = select(Product).where(Product.company_id == company_id)
    stmt = where_given(stmt, (Product.kind, given.kind), (Product.supplier_id, given.supplier_id))
    if search := given.q:
        stmt = stmt.where(
            Product.sku.icontains(search, autoescape=True)
            | Product.name.icontains(search, autoescape=True)
        )
    if given.low_stock:
        stmt = stmt.where(Product.stock <= Product.reorder_threshold)
    return await paged(session, stmt.order_by(Product.sku, Product.id), window)


async def create_product(session: AsyncSession, company_id: int, data: ProductCreate) -> Product:
    if data.supplier_id is not None:
        await company_supplier(session, company_id, data.supplier_id)
    await _check_unique(session, Product.sku, company_id, data.sku)
    return await added(session, Product(company_id=company_id, **data.model_dump()))


async def update_product(session: AsyncSession, product: Product, data: PartialUpdate) -> Product:
    changes = data.model_dump(exclude_unset=True)
    if changes.get("supplier_id") is not None:
        await company_supplier(session, product.company_id, changes["supplier_id"])
    if "sku" in changes:
        await _check_unique(session, Product.sku, product.company_id, changes["sku"], product.id)
    old_price, old_stock = product.price, product.stock
    updated = await changed(session, product, changes)
    await emit.product_changed(session, updated, old_price, old_stock)
    return updated
