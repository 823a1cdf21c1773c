"""The catalogue: ``/api/products`` and ``/api/suppliers`` of the signed-in user's company.

Another company's ids answer 404, a duplicate SKU or supplier name 409. The rules live in
:mod:`ils.domain.services.catalog`; this module is the HTTP side.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, ConfigDict, Field

from ils.domain.models.catalog import Product, ProductKind, Supplier
from ils.domain.services import MAX_ID, Amount, Id, Window
from ils.domain.services import catalog as service
from ils.domain.services.catalog import (
    ProductCreate,
    ProductUpdate,
    SupplierCreate,
    SupplierUpdate,
)
from ils.web.auth import CurrentUser, DbSession, get_owned, permit
from ils.web.errors import ErrorOut

router = APIRouter(tags=["catalog"])

RowIdPath = Id
Limit = Annotated[int, Query(ge=1, le=200, description="rows per page")]
Offset = Annotated[int, Query(ge=0, le=MAX_ID, description="rows to skip")]
Search = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}
CONFLICT: dict[int | str, dict[str, Any]] = {409: {"model": ErrorOut}}


class SupplierOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str | None
    phone: str | None
    lead_time_days: int
    created_at: dt.datetime


class SupplierPage(BaseModel):
    items: list[SupplierOut]
    total: int
    limit: int
    offset: int


class ProductOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    sku: str
    name: str
    kind: ProductKind
    supplier_id: int | None
    price: Amount
    cost: Amount
    stock: int
    reorder_threshold: int
    needs_reorder: bool = Field(description="active, and stock at or below the threshold")
    material: str | None
    design: str | None
    lens_index: Decimal | None
    active: bool
    created_at: dt.datetime


class ProductPage(BaseModel):
    items: list[ProductOut]
    total: int
    limit: int
    offset: int


# ---- suppliers ------------------------------------------------------------------------------


@router.get(
    "/api/suppliers",
    response_model=SupplierPage,
    summary="The company's suppliers",
    dependencies=[permit("catalog.read")],
)
async def list_suppliers(
    user: CurrentUser, session: DbSession, limit: Limit = 50, offset: Offset = 0, q: Search = None
) -> SupplierPage:
    """By name; ``q`` keeps the suppliers whose name holds it."""
    found = await service.list_suppliers(session, user.company_id, Window(limit, offset), q)
    items = [SupplierOut.model_validate(row) for row in found.items]
    return SupplierPage(items=items, total=found.total, limit=limit, offset=offset)


@router.post(
    "/api/suppliers",
    response_model=SupplierOut,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
    summary="Add a supplier",
    dependencies=[permit("suppliers.write")],
)
async def create_supplier(body: SupplierCreate, user: CurrentUser, session: DbSession) -> Supplier:
    return await service.create_supplier(session, user.company_id, body)


@router.get(
    "/api/suppliers/{supplier_id}",
    response_model=SupplierOut,
    responses=NOT_FOUND,
    summary="A supplier",
    dependencies=[permit("catalog.read")],
)
async def get_supplier(supplier_id: RowIdPath, user: CurrentUser, session: DbSession) -> Supplier:
    return await get_owned(session, Supplier, supplier_id, user)


@router.patch(
    "/api/suppliers/{supplier_id}",
    response_model=SupplierOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Change a supplier (only the fields sent)",
    dependencies=[permit("suppliers.write")],
)
async def update_supplier(
    supplier_id: RowIdPath, body: SupplierUpdate, user: CurrentUser, session: DbSession
) -> Supplier:
    supplier = await get_owned(session, Supplier, supplier_id, user)
    return await service.update_supplier(session, supplier, body)


# ---- products -------------------------------------------------------------------------------


@router.get(
    "/api/products",
    response_model=ProductPage,
    summary="The company's products",
    dependencies=[permit("catalog.read")],
)
async def list_products(
    user: CurrentUser,
    session: DbSession,
    limit: Limit = 50,
    offset: Offset = 0,
    kind: ProductKind | None = None,
    q: Search = None,
    low_stock: Annotated[bool, Query(description="only stock <= reorder threshold")] = False,
    supplier_id: Id | None = None,
) -> ProductPage:
    """By SKU, filtered by kind, supplier, a search on SKU or name, and low stock."""
    found = await service.list_products(
        session,
        user.company_id,
        Window(limit, offset),
        kind=kind,
        search=q,
        low_stock=low_stock,
        supplier_id=supplier_id,
    )
    items = [ProductOut.model_validate(row) for row in found.items]
    return ProductPage(items=items, total=found.total, limit=limit, offset=offset)


@router.post(
    "/api/products",
    response_model=ProductOut,
    status_code=status.HTTP_201_CREATED,
    responses=CONFLICT,
    summary="Add a product (its SKU is unique in the company)",
    dependencies=[permit("products.write")],
)
async def create_product(body: ProductCreate, user: CurrentUser, session: DbSession) -> Product:
    return await service.create_product(session, user.company_id, body)


@router.get(
    "/api/products/{product_id}",
    response_model=ProductOut,
    responses=NOT_FOUND,
    summary="A product",
    dependencies=[permit("catalog.read")],
)
async def get_product(product_id: RowIdPath, user: CurrentUser, session: DbSession) -> Product:
    return await get_owned(session, Product, product_id, user)


@router.patch(
    "/api/products/{product_id}",
    response_model=ProductOut,
    responses={**NOT_FOUND, **CONFLICT},
    summary="Change a product (only the fields sent)",
    dependencies=[permit("products.write")],
)
async def update_product(
    product_id: RowIdPath, body: ProductUpdate, user: CurrentUser, session: DbSession
) -> Product:
    product = await get_owned(session, Product, product_id, user)
    return await service.update_product(session, product, body)
