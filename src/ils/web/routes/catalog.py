"""The catalogue: ``/api/products`` and ``/api/suppliers`` of the signed-in user's company.

Another company's ids answer 404, a duplicate SKU or supplier name 409. The rules live in
:mod:`ils.domain.services.catalog`; this module is the HTTP side.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field

from ils.domain.enums import ProductKind
from ils.domain.models.catalog import Product, Supplier
from ils.domain.services import Amount
from ils.domain.services import catalog as service
from ils.domain.services.catalog import (
    ProductCreate,
    ProductUpdate,
    SupplierCreate,
    SupplierUpdate,
)
from ils.web.routes.common import OwnedRows, Page

router = APIRouter(tags=["catalog"])


class SupplierOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    name: str
    email: str | None
    phone: str | None
    lead_time_days: int
    created_at: dt.datetime


class SupplierPage(Page[SupplierOut]):
    pass


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


class ProductPage(Page[ProductOut]):
    pass


suppliers = OwnedRows(
    router, Supplier, SupplierOut, "/api/suppliers", "catalog.read", "suppliers.write", True
)
products = OwnedRows(
    router, Product, ProductOut, "/api/products", "catalog.read", "products.write", True
)


# ---- suppliers ------------------------------------------------------------------------------


suppliers.search(
    SupplierPage,
    service.list_suppliers,
    "The company's suppliers",
    "By name; ``q`` keeps the suppliers whose name holds it.",
)
suppliers.create(SupplierCreate, service.create_supplier, "Add a supplier")
suppliers.read("A supplier")
suppliers.update(
    SupplierUpdate, service.update_supplier, "Change a supplier (only the fields sent)"
)


# ---- products -------------------------------------------------------------------------------


products.search(
    ProductPage,
    service.list_products,
    "The company's products",
    "By SKU, filtered by kind, supplier, a search on SKU or name, and low stock.",
)


products.create(
    ProductCreate, service.create_product, "Add a product (its SKU is unique in the company)"
)
products.read("A product")
products.update(ProductUpdate, service.update_product, "Change a product (only the fields sent)")
