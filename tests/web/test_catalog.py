"""Product and supplier routes: CRUD, filters (kind, search, low stock), exact money in and out,
409 for a duplicate SKU or supplier name, other companies' ids 404 (or 422 inside a body).
Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ils.domain.db import Database
from ils.domain.enums import ProductKind, Role
from ils.domain.models.catalog import Product, Supplier
from tests.web.conftest import Accounts
from tests.web.helpers import fields, outsider, signed_in

LENS: dict[str, Any] = {
    "sku": "SV-160-AR",
    "name": "Single vision 1.60 AR",
    "kind": "lens",
    "price": "129.99",
    "cost": 41.5,
    "stock": 12,
    "reorder_threshold": 5,
    "material": "MR-8",
    "lens_index": "1.6",
}


async def create(client: httpx.AsyncClient, url: str, body: dict[str, Any]) -> Any:
    response = await client.post(url, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def test_suppliers_are_created_listed_and_updated(api: FastAPI):
    async with signed_in(api, Role.company_admin) as client:
        hoya = await create(client, "/api/suppliers", {"name": "Hoya", "phone": "01"})
        assert hoya["lead_time_days"] == 7
        await create(client, "/api/suppliers", {"name": "Essilor", "lead_time_days": 3})
        listed = (await client.get("/api/suppliers")).json()
        assert [s["name"] for s in listed["items"]] == ["Essilor", "Hoya"]
        assert (await client.get("/api/suppliers", params={"q": "hoy"})).json()["total"] == 1
        url = f"/api/suppliers/{hoya['id']}"
        patched = await client.patch(url, json={"phone": "0161 496 0000", "lead_time_days": 2})
        assert patched.status_code == 200, patched.text
        assert (patched.json()["phone"], patched.json()["lead_time_days"]) == ("0161 496 0000", 2)
        assert (await client.get(url)).json() == patched.json()
        duplicate = await client.post("/api/suppliers", json={"name": "Hoya"})
        assert duplicate.status_code == 409 and "Hoya" in duplicate.json()["detail"]
        renamed = await client.patch(url, json={"name": "Essilor"})
        assert renamed.status_code == 409
        assert fields(await client.patch(url, json={"lead_time_days": None})) == {"lead_time_days"}
        assert fields(await client.patch(url, json={"email": "po at hoya"})) == {"email"}


async def test_products_keep_money_exact_in_and_out(api: FastAPI, db: Database):
    async with signed_in(api, Role.company_admin) as client:
        supplier = await create(client, "/api/suppliers", {"name": "Hoya"})
        product = await create(client, "/api/products", LENS | {"supplier_id": supplier["id"]})
        assert (product["price"], product["cost"]) == ("129.99", "41.50")
        assert product["lens_index"] == "1.60" and product["needs_reorder"] is False
        url = f"/api/products/{product['id']}"
        assert (await client.get(url)).json() == product
        patched = await client.patch(url, json={"price": 0.1, "stock": 5, "design": "aspheric"})
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert (body["price"], body["stock"], body["needs_reorder"]) == ("0.10", 5, True)
        assert (await client.get(url)).json() == body
    async with db.session() as session:
        stored = await session.get(Product, product["id"])
        assert stored is not None and stored.price == Decimal("0.10")
        assert stored.cost == Decimal("41.50")


async def test_products_filter_by_kind_search_and_low_stock(api: FastAPI):
    async with signed_in(api, Role.company_admin) as client:
        await create(client, "/api/products", LENS)
        frame = await create(
            client, "/api/products",
            {"sku": "FR-ACE-52", "name": "Acetate 52", "kind": "frame", "price": "89.90",
             "stock": 2, "reorder_threshold": 2},
        )  # fmt: skip
        cloth = await create(
            client, "/api/products",
            {"sku": "ACC-CLOTH", "name": "Microfibre cloth", "kind": "accessory", "price": "3",
             "stock": 0},
        )  # fmt: skip

        async def skus(**params: Any) -> list[str]:
            response = await client.get("/api/products", params=params)
            assert response.status_code == 200, response.text
            return [p["sku"] for p in response.json()["items"]]

        assert await skus() == ["ACC-CLOTH", "FR-ACE-52", "SV-160-AR"]
        assert await skus(kind="frame") == ["FR-ACE-52"]
        assert await skus(q="sv-160") == ["SV-160-AR"]
        assert await skus(q="acetate") == ["FR-ACE-52"]
        assert await skus(low_stock="true") == [cloth["sku"], frame["sku"]]
        assert await skus(low_stock="true", kind="accessory") == ["ACC-CLOTH"]
        assert await skus(limit=1, offset=1) == ["FR-ACE-52"]
        assert fields(await client.get("/api/products", params={"kind": "telescope"})) == {"kind"}
        assert fields(await client.get("/api/products", params={"limit": 500})) == {"limit"}


async def test_a_duplicate_sku_is_a_409(api: FastAPI, accounts: Accounts, db: Database):
    async with db.session() as session:  # the same SKU in another company is no conflict
        session.add(Product(company_id=accounts.company_b, sku="FR-1", name="B's frame",
                            kind=ProductKind.frame, price=Decimal("10.00")))  # fmt: skip
    async with signed_in(api, Role.company_admin) as client:
        await create(client, "/api/products", LENS)
        other = await create(client, "/api/products", LENS | {"sku": "FR-1", "kind": "frame"})
        duplicate = await client.post("/api/products", json=LENS | {"name": "Another"})
        assert duplicate.status_code == 409, duplicate.text
        assert "SV-160-AR" in duplicate.json()["detail"]
        clash = await client.patch(f"/api/products/{other['id']}", json={"sku": "SV-160-AR"})
        assert clash.status_code == 409
        same = await client.patch(f"/api/products/{other['id']}", json={"sku": "FR-1"})
        assert same.status_code == 200
        assert (await client.get("/api/products")).json()["total"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "129.999"}, "price"),
        ({"price": 0.125}, "price"),
        ({"price": "-1"}, "price"),
        ({"price": "a lot"}, "price"),
        ({"price": "1e13"}, "price"),
        ({"cost": "NaN"}, "cost"),
        ({"kind": "telescope"}, "kind"),
        ({"sku": ""}, "sku"),
        ({"sku": "X" * 41}, "sku"),
        ({"stock": -1}, "stock"),
        ({"lens_index": "3.2"}, "lens_index"),
        ({"supplier_id": 0}, "supplier_id"),
        ({"supplier_id": 999999}, "supplier_id"),
        ({"colour": "red"}, "colour"),
    ],
)
async def test_bad_products_are_422_naming_the_field(
    api: FastAPI, change: dict[str, Any], field: str
):
    async with signed_in(api, Role.company_admin) as client:
        assert field in fields(await client.post("/api/products", json=LENS | change))
        assert (await client.get("/api/products")).json()["total"] == 0


async def test_another_companys_catalogue_is_404_and_its_ids_422_in_bodies(
    api: FastAPI, accounts: Accounts, db: Database
):
    async with db.session() as session:
        theirs = Supplier(company_id=accounts.company_b, name="B's supplier")
        session.add(theirs)
        await session.flush()
        product = Product(
            company_id=accounts.company_b, sku="B-1", name="B's lens", kind=ProductKind.lens,
            price=Decimal("5.00"), supplier_id=theirs.id,
        )  # fmt: skip
        session.add(product)
        await session.flush()
        ids = (theirs.id, product.id)
    async with signed_in(api, Role.company_admin) as client:
        for url in (f"/api/suppliers/{ids[0]}", f"/api/products/{ids[1]}"):
            assert (await client.get(url)).status_code == 404
            assert (await client.patch(url, json={"name": "mine"})).status_code == 404
        assert (await client.get("/api/products")).json()["total"] == 0
        assert (await client.get("/api/suppliers")).json()["total"] == 0
        body = LENS | {"supplier_id": ids[0]}
        assert fields(await client.post("/api/products", json=body)) == {"supplier_id"}
        mine = await create(client, "/api/products", LENS)
        moved = await client.patch(f"/api/products/{mine['id']}", json={"supplier_id": ids[0]})
        assert fields(moved) == {"supplier_id"}
    async with outsider(api) as other:
        assert (await other.get(f"/api/products/{ids[1]}")).status_code == 200
        assert (await other.get(f"/api/products/{mine['id']}")).status_code == 404
