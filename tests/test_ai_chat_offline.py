"""The chat tools and the offline provider on both databases: each common question answered
from the company's own data (never another company's, whatever the arguments say), and a plain
"can't answer" with what it can answer for anything else."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal

import pytest

from ils.domain.db import Database
from ils.domain.models import Order, OrderStatus
from ils.jobs.ai.chat.offline import OfflineProvider
from ils.jobs.ai.chat.tools import TOOLS, Scope, ToolSet
from tests.support.ai_world import Shop, make_shop
from tests.support.chat_world import store_anomalies, store_forecast


async def add_today(db: Database, company_id: int, statuses: list[OrderStatus]) -> None:
    now = dt.datetime.now(dt.UTC)
    async with db.session() as s:
        for i, status in enumerate(statuses):
            s.add(Order(company_id=company_id, number=f"T-{company_id}-{i}", customer_name="C",
                        status=status, created_at=now, subtotal=Decimal("50.00"),
                        tax=Decimal("0.00"), total=Decimal("50.00")))  # fmt: skip


@pytest.fixture
async def shops(db: Database) -> tuple[Shop, Shop]:
    alpha = await make_shop(db, "alpha", products=3, days=10, stocks=[3, 500, 1])
    bravo = await make_shop(db, "bravo", products=2, days=10, stocks=[0, 0], seed=2)
    await add_today(db, alpha.company_id, [OrderStatus.pending] * 2 + [OrderStatus.cancelled])
    await add_today(db, bravo.company_id, [OrderStatus.pending] * 5)
    await store_forecast(db, alpha.company_id, alpha.product_ids[1], alpha.skus[1], daily=3.0,
                         reorder={"quantity": 12, "lead_time_days": 5})  # fmt: skip
    await store_forecast(db, bravo.company_id, bravo.product_ids[0], bravo.skus[0], daily=9.0)
    await store_anomalies(db, alpha.company_id, ["Revenue for 2026-01-05 was 10 against 90."])
    await store_anomalies(db, bravo.company_id, ["Orders at bravo were odd."])
    return alpha, bravo


async def ask(db: Database, shop: Shop, question: str) -> tuple[str, list[str]]:
    tools = ToolSet(Scope(db, shop.company_id))
    answer = await OfflineProvider().answer([], question, tools)
    return answer.text, answer.tools_used


async def test_orders_today_by_status_and_yesterday(db: Database, shops: tuple[Shop, Shop]):
    alpha, _ = shops
    text, used = await ask(db, alpha, "How many orders today?")
    assert text.startswith("2 orders today, worth 100.00") and "1 cancelled" in text
    assert used == ["count_orders"]
    text, _ = await ask(db, alpha, "how many orders are pending?")
    assert text.startswith("2 pending orders today")
    yesterday = sum(1 for series in alpha.daily.values() if series[-1] > 0)
    text, _ = await ask(db, alpha, "How many orders did we get yesterday?")
    assert text.startswith(f"{yesterday} order")
    text, used = await ask(db, alpha, "List orders today")
    assert text.count("T-") == 3 and used == ["list_orders"]


async def test_low_stock_forecast_and_anomalies(db: Database, shops: tuple[Shop, Shop]):
    alpha, _ = shops
    text, used = await ask(db, alpha, "What is low on stock?")
    assert used == ["low_stock"] and text.startswith("2 products are low on stock")
    assert alpha.skus[0] in text and alpha.skus[2] in text and alpha.skus[1] not in text
    assert "BRA-" not in text
    text, used = await ask(db, alpha, f"What's the forecast for SKU {alpha.skus[1].lower()}?")
    assert used == ["demand_forecast"] and "42 units expected" in text and "12 units" in text
    text, _ = await ask(db, alpha, f"forecast for {alpha.skus[0]}")
    assert text == f"There is no demand forecast for {alpha.skus[0]} (Product alpha 0) yet."
    text, _ = await ask(db, alpha, "Any anomalies lately?")
    assert "Revenue for 2026-01-05 was 10 against 90." in text and "bravo" not in text


async def test_another_companys_data_never_appears(db: Database, shops: tuple[Shop, Shop]):
    alpha, bravo = shops
    text, _ = await ask(db, alpha, f"forecast for {bravo.skus[0]}")
    assert text == f"I found no product with the SKU {bravo.skus[0]}."
    tools = ToolSet(Scope(db, alpha.company_id))
    sneaky = await tools.call("count_orders", {"company_id": bravo.company_id})
    assert "company_id" in sneaky["error"] and "count" not in sneaky
    sneaky = await tools.call("low_stock", json.dumps({"company_id": bravo.company_id}))
    assert "error" in sneaky and tools.used == []
    counted = await tools.call("count_orders", {"period": "today"})
    assert counted["count"] == 2 and counted["by_status"] == {"pending": 2, "cancelled": 1}
    low = await tools.call("low_stock", {})
    assert {i["sku"] for i in low["items"]} == {alpha.skus[0], alpha.skus[2]}
    assert tools.used == ["count_orders", "low_stock"]
    names = ", ".join(t.name for t in TOOLS)
    unknown = await tools.call("drop_tables", {})
    assert unknown == {"error": f"unknown tool 'drop_tables'; one of {names}"}
    bad = await tools.call("count_orders", {"start_date": "2026-02-10", "end_date": "2026-01-01"})
    assert "end_date must be start_date or later" in bad["error"]


async def test_an_unsupported_question_is_answered_plainly(db: Database, shops: tuple[Shop, Shop]):
    alpha, _ = shops
    text, used = await ask(db, alpha, "Will it rain tomorrow?")
    assert text.startswith("I can't answer that") and "low on stock" in text and used == []
    text, _ = await ask(db, alpha, "What's the forecast?")
    assert text.startswith("Which product?")


def test_every_tool_describes_its_arguments_without_a_company():
    for tool in TOOLS:
        schema = tool.schema()["function"]
        assert schema["parameters"]["type"] == "object" and schema["description"]
        assert "company_id" not in json.dumps(schema["parameters"])
        assert schema["parameters"].get("additionalProperties") is False
