"""The whitelisted, read-only tools a chat answer may use: orders (counted or listed over a
period), low stock, the latest demand forecast of a SKU, recent anomalies.

A :class:`ToolSet` is bound to one company when the job starts; the tools take that company from
it and never from their arguments (which forbid unknown keys such as ``company_id``). A call with
bad arguments answers an error the model can read, not an exception.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from sqlalchemy import func, select

from ils.domain.db import Database
from ils.domain.models import AiResult, AiResultKind, Company, Order, OrderStatus, Product
from ils.jobs.ai import data

Period = Literal["today", "yesterday", "last_7_days", "last_30_days", "this_month", "last_month"]
MAX_RANGE_DAYS = 366


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OrdersArgs(_Args):
    period: Period | None = Field(None, description="a named period; default today")
    start_date: dt.date | None = Field(None, description="first day, YYYY-MM-DD (not with period)")
    end_date: dt.date | None = Field(None, description="last day, YYYY-MM-DD; default start_date")
    status: OrderStatus | None = Field(None, description="only orders in this status")

    @model_validator(mode="after")
    def _one_way(self) -> OrdersArgs:
        if self.period is not None and (self.start_date or self.end_date):
            raise ValueError("give either period or start_date/end_date, not both")
        first, last = self.start_date or self.end_date, self.end_date or self.start_date
        if first and last and not 0 <= (last - first).days < MAX_RANGE_DAYS:
            raise ValueError(f"end_date must be start_date or later, within {MAX_RANGE_DAYS} days")
        return self


class ListOrdersArgs(OrdersArgs):
    limit: int = Field(10, ge=1, le=20)


class LowStockArgs(_Args):
    limit: int = Field(20, ge=1, le=50)


class ForecastArgs(_Args):
    sku: str = Field(min_length=1, max_length=64, description="the product's SKU")


class AnomaliesArgs(_Args):
    limit: int = Field(5, ge=1, le=20)


@dataclass(frozen=True)
class Scope:
    """The company every tool reads, fixed by the job."""

    db: Database
    company_id: int


ToolFn = Callable[[Scope, Any], Awaitable[dict[str, Any]]]


@dataclass(frozen=True)
class Tool:
    name: str
    description: str
    arguments: type[_Args]
    run: ToolFn

    def schema(self) -> dict[str, Any]:
        """The tool in the chat-completions ``tools`` format (a JSON-schema function)."""
        return {"type": "function", "function": {
            "name": self.name, "description": self.description,
            "parameters": _untitled(self.arguments.model_json_schema()),
        }}  # fmt: skip


def _untitled(schema: Any) -> Any:
    if isinstance(schema, dict):
        return {k: _untitled(v) for k, v in schema.items() if k != "title"}
    if isinstance(schema, list):
        return [_untitled(v) for v in schema]
    return schema


def _period_days(args: OrdersArgs, today: dt.date) -> tuple[dt.date, dt.date]:
    if args.start_date or args.end_date:
        first = args.start_date or args.end_date
        last = args.end_date or args.start_date
        assert first is not None and last is not None
        return first, last
    period = args.period or "today"
    month_start = today.replace(day=1)
    if period == "today":
        return today, today
    if period == "yesterday":
        return today - dt.timedelta(days=1), today - dt.timedelta(days=1)
    if period == "last_7_days":
        return today - dt.timedelta(days=6), today
    if period == "last_30_days":
        return today - dt.timedelta(days=29), today
    if period == "this_month":
        return month_start, today
    previous_end = month_start - dt.timedelta(days=1)
    return previous_end.replace(day=1), previous_end


async def _orders_window(scope: Scope, args: OrdersArgs) -> tuple[Company, dt.date, dt.date, Any]:
    async with scope.db.session() as s:
        company = await data.company(s, scope.company_id)
    first, last = _period_days(args, data.local_today(company))
    start, end = data.utc_bounds(company, first, last)
    where = [Order.company_id == company.id, Order.created_at >= start, Order.created_at < end]
    return company, first, last, where


async def count_orders(scope: Scope, args: OrdersArgs) -> dict[str, Any]:
    _, first, last, where = await _orders_window(scope, args)
    async with scope.db.session() as s:
        rows = (await s.execute(
            select(Order.status, func.count(Order.id), func.coalesce(func.sum(Order.total), 0))
            .where(*where).group_by(Order.status)
        )).all()  # fmt: skip
    by_status = {status.value: int(n) for status, n, _ in rows}
    if args.status is not None:
        chosen = [(n, total) for status, n, total in rows if status == args.status]
    else:  # cancelled orders are not orders a shop counts as taken
        chosen = [(n, total) for status, n, total in rows if status != OrderStatus.cancelled]
    return {
        "from": first.isoformat(), "to": last.isoformat(),
        "status": args.status.value if args.status else "all but cancelled",
        "count": sum(int(n) for n, _ in chosen),
        "revenue": round(sum(float(t) for _, t in chosen), 2), "by_status": by_status,
    }  # fmt: skip


async def list_orders(scope: Scope, args: ListOrdersArgs) -> dict[str, Any]:
    _, first, last, where = await _orders_window(scope, args)
    if args.status is not None:
        where.append(Order.status == args.status)
    async with scope.db.session() as s:
        rows = list(await s.scalars(
            select(Order).where(*where).order_by(Order.created_at.desc(), Order.id.desc())
            .limit(args.limit)
        ))  # fmt: skip
    return {"from": first.isoformat(), "to": last.isoformat(), "orders": [
        {"number": o.number, "status": o.status.value, "total": float(o.total),
         "created_at": o.created_at.isoformat(),
         "due_date": o.due_date.isoformat() if o.due_date else None}
        for o in rows
    ]}  # fmt: skip


async def low_stock(scope: Scope, args: LowStockArgs) -> dict[str, Any]:
    async with scope.db.session() as s:
        rows = list(await s.scalars(
            select(Product).where(
                Product.company_id == scope.company_id, Product.active,
                Product.stock <= Product.reorder_threshold,
            ).order_by(Product.stock, Product.sku)
        ))  # fmt: skip
    items = [{"sku": p.sku, "name": p.name, "stock": p.stock,
              "reorder_threshold": p.reorder_threshold} for p in rows[: args.limit]]  # fmt: skip
    return {"count": len(rows), "items": items}


async def demand_forecast(scope: Scope, args: ForecastArgs) -> dict[str, Any]:
    sku = args.sku.strip()
    async with scope.db.session() as s:
        product = await s.scalar(select(Product).where(
            Product.company_id == scope.company_id, func.lower(Product.sku) == sku.lower()
        ))  # fmt: skip
        if product is None:
            return {"error": f"no product with SKU {sku!r}"}
        results = list(await s.scalars(
            select(AiResult).where(
                AiResult.company_id == scope.company_id,
                AiResult.kind == AiResultKind.demand_forecast,
            ).order_by(AiResult.id.desc()).limit(20)
        ))  # fmt: skip
    for result in results:
        entry = next((f for f in result.data.get("forecasts", [])
                      if f.get("product_id") == product.id), None)  # fmt: skip
        if entry is not None:
            return {
                "sku": product.sku, "name": product.name, "found": True,
                "made_at": result.created_at.isoformat(), "model": entry["model"],
                "from": entry["dates"][0], "to": entry["dates"][-1], "days": len(entry["dates"]),
                "total": entry["total"], "daily_mean": entry["mean"][:14],
                "stock": product.stock, "reorder": entry.get("reorder"),
            }  # fmt: skip
    return {"sku": product.sku, "name": product.name, "found": False,
            "note": "no demand forecast has been made for this product yet"}  # fmt: skip


async def recent_anomalies(scope: Scope, args: AnomaliesArgs) -> dict[str, Any]:
    async with scope.db.session() as s:
        result = await s.scalar(
            select(AiResult).where(
                AiResult.company_id == scope.company_id, AiResult.kind == AiResultKind.anomaly
            ).order_by(AiResult.id.desc()).limit(1)
        )  # fmt: skip
    if result is None:
        return {"found": False, "anomalies": [], "note": "no anomaly scan has run yet"}
    anomalies = result.data.get("anomalies", [])
    return {
        "found": True, "scanned_at": result.created_at.isoformat(), "count": len(anomalies),
        "anomalies": [{k: a.get(k) for k in ("metric", "bucket", "severity", "text")}
                      for a in anomalies[: args.limit]],
    }  # fmt: skip


TOOLS: tuple[Tool, ...] = (
    Tool("count_orders", "Count the company's orders and their revenue over a period of local "
         "days (cancelled ones left out unless asked for by status), with counts by status.",
         OrdersArgs, count_orders),
    Tool("list_orders", "The company's newest orders over a period: number, status, total, "
         "created and due dates.", ListOrdersArgs, list_orders),
    Tool("low_stock", "Active products at or below their reorder threshold, lowest stock first.",
         LowStockArgs, low_stock),
    Tool("demand_forecast", "The latest demand forecast of one product, by SKU: daily expected "
         "units, total over the horizon, and any reorder suggestion.", ForecastArgs,
         demand_forecast),
    Tool("recent_anomalies", "Anomalies found by the latest anomaly scan (revenue, orders, "
         "inventory, patients), largest first.", AnomaliesArgs, recent_anomalies),
)  # fmt: skip


@dataclass
class ToolSet:
    """The tools, bound to one company; remembers which were used."""

    scope: Scope
    tools: Mapping[str, Tool] = field(default_factory=lambda: {t.name: t for t in TOOLS})
    used: list[str] = field(default_factory=list)

    def schemas(self) -> list[dict[str, Any]]:
        return [tool.schema() for tool in self.tools.values()]

    async def call(self, name: str, arguments: Mapping[str, Any] | str | None) -> dict[str, Any]:
        """Run tool ``name``; unknown tools and bad arguments answer ``{"error": ...}``."""
        tool = self.tools.get(name)
        if tool is None:
            return {"error": f"unknown tool {name!r}; one of {', '.join(self.tools)}"}
        try:
            raw = json.loads(arguments) if isinstance(arguments, str) else dict(arguments or {})
            args = tool.arguments.model_validate(raw or {})
        except (ValueError, TypeError, ValidationError) as exc:
            return {"error": f"bad arguments for {name}: {_reason(exc)}"}
        self.used.append(name)
        return await tool.run(self.scope, args)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'arguments'}: {e['msg']}"
                         for e in exc.errors(include_url=False))  # fmt: skip
    return str(exc)
