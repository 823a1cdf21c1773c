"""The forecast routes on both databases: a product's history, forecast and bands; the reorder
list recomputed with today's stock, open purchase orders and the service level asked for, else
the company's own (which the job uses too, and its admin sets); another company's product is 404,
a product not yet forecast has no forecast (not an error), and a bad service level is a 422
naming it."""

from __future__ import annotations

import math

from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import Role
from ils.domain.models import Company, PurchaseOrder, PurchaseOrderLine, PurchaseOrderStatus
from ils.jobs import helpers
from ils.jobs.ai.pool import ModelPool
from tests.support.ai_world import make_shop
from tests.support.running import running
from tests.web.conftest import PASSWORD, Accounts, add_user, csrf_headers, login, make_client
from tests.web.helpers import fields, signed_in


async def test_forecast_and_reorders_of_a_shop(
    api: FastAPI, accounts: Accounts, db: Database, password_hash: str, model_pool: ModelPool
):
    system: JobSystem = api.state.system
    system.resources.give("ai_models", model_pool)
    shop = await make_shop(db, "kilo", products=2, days=120, rates=[4, 0.3], stocks=[2, 500])
    async with db.session() as s:
        po = PurchaseOrder(company_id=shop.company_id, supplier_id=shop.supplier_id,
                           number="PO-000001", status=PurchaseOrderStatus.sent)  # fmt: skip
        s.add(po)
        await s.flush()
        s.add(PurchaseOrderLine(purchase_order_id=po.id, product_id=shop.product_ids[0],
                                quantity=5, unit_cost=1, line_total=5))  # fmt: skip
        company = await s.get(Company, shop.company_id)
        assert company is not None and company.service_level == 0.95  # the default
        company.service_level = 0.9
    buyer, boss = "buyer@kilo.example", "boss@kilo.example"
    await add_user(db, shop.company_id, buyer, Role.dispenser, password_hash)
    await add_user(db, shop.company_id, boss, Role.company_admin, password_hash)
    async with running(system, "ai"):
        job = await helpers.queue_demand_forecast.using(producer=system.producer)(
            company_id=shop.company_id, horizon_days=14
        )
        view = await system.admin.wait_for_job("ai", job.job_id, timeout_s=120)
    assert view.state == "completed", view.failed_reason
    assert view.return_value["service_level"] == 0.9  # the company's, the payload naming none
    busy, quiet = shop.product_ids
    async with make_client(api) as client:
        assert (await login(client, buyer, PASSWORD)).status_code == 200
        client.headers.update(csrf_headers(client))
        # The company's level, for the page's default: read by the roles that read forecasts.
        assert (await client.get("/api/ai/settings")).json() == {"service_level": 0.9}
        got = await client.get(f"/api/ai/forecasts/products/{busy}")
        assert got.status_code == 200, got.text
        body = got.json()
        assert body["stock"] == 2 and body["on_order"] == 5
        assert len(body["history"]["dates"]) == len(body["history"]["demand"]) == 91
        assert sum(body["history"]["demand"]) > 100
        f = body["forecast"]
        assert len(f["dates"]) == len(f["mean"]) == 14 and f["pattern"]["label"] == "smooth"
        for i in range(14):
            assert f["lower95"][i] <= f["lower80"][i] <= f["upper80"][i] <= f["upper95"][i]
        r = body["reorder"]
        assert r["lead_time_days"] == 5 and r["cover_days"] == 12 and r["on_order"] == 5
        assert r["quantity"] == math.ceil(r["demand_at_service_level"] - 7)
        listed = (await client.get("/api/ai/reorders")).json()
        assert [i["product_id"] for i in listed["items"]] == [busy]
        assert listed["items"][0]["quantity"] == r["quantity"] and listed["service_level"] == 0.9
        assert r["service_level"] == 0.9
        assert "order" in listed["items"][0]["text"]
        lower = (await client.get("/api/ai/reorders", params={"service_level": 0.8})).json()
        assert lower["items"][0]["quantity"] <= r["quantity"]
        calm = (await client.get(f"/api/ai/forecasts/products/{quiet}")).json()
        assert calm["reorder"]["quantity"] == 0 and calm["forecast"] is not None
        bad = await client.get("/api/ai/reorders", params={"service_level": 2})
        assert fields(bad) == {"service_level"}
        refused = await client.put("/api/ai/settings", json={"service_level": 0.99})
        assert refused.status_code == 403  # a dispenser reads forecasts, an admin sets the level
    async with make_client(api) as client:
        assert (await login(client, boss, PASSWORD)).status_code == 200
        client.headers.update(csrf_headers(client))
        for wrong in (0.3, 1.2, "high", None):
            bad = await client.put("/api/ai/settings", json={"service_level": wrong})
            assert fields(bad) == {"service_level"}, wrong
        put = await client.put("/api/ai/settings", json={"service_level": 0.99})
        assert put.status_code == 200 and put.json() == {"service_level": 0.99}
        assert (await client.get("/api/ai/settings")).json() == {"service_level": 0.99}
        higher = (await client.get("/api/ai/reorders")).json()
        assert higher["service_level"] == 0.99
        assert higher["items"][0]["quantity"] > r["quantity"]  # the company's level moves it
        one = (await client.get(f"/api/ai/forecasts/products/{busy}")).json()
        assert one["reorder"]["quantity"] == higher["items"][0]["quantity"]
        asked = (await client.get("/api/ai/reorders", params={"service_level": 0.9})).json()
        assert asked["items"][0]["quantity"] == r["quantity"]  # the query still overrides
    async with signed_in(api, Role.company_admin) as other:  # company A: not the shop's
        assert (await other.get("/api/ai/settings")).json() == {"service_level": 0.95}  # its own
        assert (await other.get(f"/api/ai/forecasts/products/{busy}")).status_code == 404
        empty = (await other.get("/api/ai/reorders")).json()
        assert empty == {"made_at": None, "history_end": None, "service_level": 0.95, "items": []}
        made = await other.post("/api/products", json={"sku": "NEW-1", "name": "New",
                                                      "kind": "lens", "price": "9.00"})  # fmt: skip
        assert made.status_code == 201, made.text
        fresh = (await other.get(f"/api/ai/forecasts/products/{made.json()['id']}")).json()
        assert fresh["forecast"] is None and fresh["reorder"] is None
        assert fresh["history"]["demand"] == [0.0] * 91
