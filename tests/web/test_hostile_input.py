"""Hostile input: bodies past the size limit are 413 (with or without Content-Length); ids
outside the columns' range, lone surrogates, NaN and infinities, absurd quantities, prices and
totals are 422 naming the field — never a 500, nothing written, and the value neither echoed nor
logged. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from ils.domain.enums import Role
from ils.domain.models.orders import Order
from ils.settings import load_web_settings
from ils.web.settings import WebSettings
from tests.web.conftest import Accounts
from tests.web.helpers import fields, signed_in

MAX_BODY = 16384
MARKER = "zq-hostile-7731"  # a value that must not reach any log or answer
HUGE_ID = "123456789012345678901234567890"  # far outside int64

ORDER: dict[str, Any] = {
    "customer_name": "Dana Whitfield",
    "lines": [{"kind": "frame", "description": "Acetate frame", "unit_price": "89.90"}],
    "tax_rate_percent": "20",
}


@pytest.fixture
def web_settings(tmp_path: Path) -> WebSettings:
    return load_web_settings({"ILS_MAX_BODY_BYTES": str(MAX_BODY)}, tmp_path / "var")


async def orders_written(app: FastAPI) -> int:
    async with app.state.system.database.session() as session:
        return int((await session.execute(select(func.count()).select_from(Order))).scalar_one())


def server_logs(caplog: pytest.LogCaptureFixture) -> str:
    """Everything the app (and its database driver, at DEBUG) logged; not the test's client."""
    return "\n".join(r.getMessage() for r in caplog.records if not r.name.startswith("httpx"))


def raw_json(text: str) -> dict[str, Any]:
    return {"content": text.encode(), "headers": {"content-type": "application/json"}}


async def test_a_body_past_the_limit_is_413_with_or_without_content_length(
    api: FastAPI, accounts: Accounts
):
    big = ORDER | {"special_instructions": "x" * (MAX_BODY + 10)}
    async with signed_in(api) as client:
        sized = await client.post("/api/orders", json=big)
        assert sized.status_code == 413, sized.text

        async def chunks() -> AsyncIterator[bytes]:
            yield b'{"customer_name": "Dana", "special_instructions": "'
            for _ in range(MAX_BODY // 4096 + 2):
                yield b"y" * 4096
            yield b'", "lines": []}'

        chunked = await client.post(
            "/api/orders", content=chunks(), headers={"content-type": "application/json"}
        )
        assert "content-length" not in chunked.request.headers
        assert chunked.status_code == 413, chunked.text
        small = await client.post("/api/orders", json=ORDER)
        assert small.status_code == 201, small.text
    assert await orders_written(api) == 1


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("GET", f"/api/orders/{HUGE_ID}"),
        ("GET", "/api/orders/-1"),
        ("GET", "/api/orders/0"),
        ("POST", f"/api/orders/{HUGE_ID}/ship"),
        ("GET", f"/api/invoices?order_id={HUGE_ID}"),
        ("GET", f"/api/notifications?before_id={HUGE_ID}"),
        ("GET", f"/api/documents/{HUGE_ID}"),
        ("POST", f"/api/marketplace/connections/{HUGE_ID}/accept"),
        ("GET", f"/api/ai/conversations/{HUGE_ID}"),
    ],
)
async def test_ids_outside_the_columns_range_are_422(
    api: FastAPI, accounts: Accounts, method: str, url: str
):
    async with signed_in(api, Role.admin) as client:
        body = {"tracking_number": "1Z"} if url.endswith("/ship") else None
        response = await client.request(method, url, json=body)
        assert response.status_code == 422, response.text
        assert HUGE_ID not in response.text


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"patient_id": int(HUGE_ID)}, "patient_id"),
        ({"patient_id": 2**63}, "patient_id"),
        ({"lines": [{"kind": "lens", "product_id": 2**64, "quantity": 1}]}, "lines.0.product_id"),
        ({"lines": [{"kind": "lens", "description": "x", "unit_price": "1", "quantity": 1001}]},
         "lines.0.quantity"),
        ({"lines": [{"kind": "lens", "description": "x", "unit_price": "1000000.01"}]},
         "lines.0.unit_price"),
        ({"lines": [{"kind": "lens", "description": "x", "unit_price": "999999", "quantity": 20}]},
         "lines"),
    ],
)  # fmt: skip
async def test_ids_quantities_prices_and_totals_are_bounded(
    api: FastAPI, accounts: Accounts, change: dict[str, Any], field: str
):
    async with signed_in(api) as client:
        response = await client.post("/api/orders", json=ORDER | change)
        assert field in fields(response)
    assert await orders_written(api) == 0


HOSTILE_BODIES = {  # "@" stands for MARKER
    "lone high surrogate": '{"customer_name": "@\\ud800", "lines": []}',
    "lone low surrogate": '{"customer_name": "\\udc00@", "lines": []}',
    "surrogate in a key": '{"@\\ud83d": 1, "customer_name": "x", "lines": []}',
    "overflowing number": '{"customer_name": "@", "tax_rate_percent": 1e999999}',
    "negative infinity": '{"customer_name": "@", "tax_rate_percent": -1e999999}',
    "NaN": '{"customer_name": "@", "tax_rate_percent": NaN}',
    "Infinity": '{"customer_name": "@", "tax_rate_percent": Infinity}',
    "5000-digit integer": '{"customer_name": "@", "patient_id": ' + "9" * 5000 + "}",
    "deep nesting": '{"customer_name": "@", "rx": ' + "[" * 5000 + "1" + "]" * 5000 + "}",
}


@pytest.mark.parametrize("text", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
async def test_hostile_json_is_422_not_written_not_echoed_not_logged(
    api: FastAPI, accounts: Accounts, text: str, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.DEBUG):
        async with signed_in(api) as client:
            response = await client.post("/api/orders", **raw_json(text.replace("@", MARKER)))
    assert response.status_code == 422, response.text
    assert MARKER not in response.text
    assert MARKER not in server_logs(caplog)
    assert await orders_written(api) == 0


async def test_invalid_utf8_is_422(api: FastAPI, accounts: Accounts):
    async with signed_in(api) as client:
        response = await client.post(
            "/api/orders", content=b'{"customer_name": "\xff\xfe"}',
            headers={"content-type": "application/json"},
        )  # fmt: skip
    assert response.status_code == 422, response.text


async def test_a_valid_surrogate_pair_is_kept(api: FastAPI, accounts: Accounts):
    async with signed_in(api) as client:
        line = '{"kind": "frame", "description": "Acetate frame", "unit_price": "89.90"}'
        text = '{"customer_name": "Dana \\ud83d\\ude00", "lines": [' + line + "]}"
        response = await client.post("/api/orders", **raw_json(text))
    assert response.status_code == 201, response.text
    assert response.json()["order"]["customer_name"] == "Dana \U0001f600"


async def test_rejected_query_values_are_neither_echoed_nor_logged(
    api: FastAPI, accounts: Accounts, caplog: pytest.LogCaptureFixture
):
    with caplog.at_level(logging.DEBUG):
        async with signed_in(api) as client:
            response = await client.get("/api/orders", params={"limit": MARKER})
            assert response.status_code == 422
            assert "limit" in fields(response)
    assert MARKER not in response.text
    assert MARKER not in server_logs(caplog)
