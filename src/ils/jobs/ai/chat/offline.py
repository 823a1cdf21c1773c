"""The built-in offline provider, the default: recognises the common questions (orders over a
period, low stock, the forecast of a SKU, recent anomalies), answers them from the same tools the
HTTP provider offers a model, and says plainly when it cannot answer and what it can.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ils.domain.enums import OrderStatus
from ils.jobs.ai.chat.provider import Answer, Turn

if TYPE_CHECKING:
    from ils.jobs.ai.chat.tools import ToolSet

CAN_ANSWER = (
    'how many orders there were today, yesterday, this week or this month ("how many orders '
    'today?", "how many orders are pending?"), the latest orders ("list orders today"), what '
    'is low on stock, the demand forecast for a SKU ("forecast for SKU ABC-001"), and recent '
    "anomalies"
)
PERIODS = (  # first match wins: the longer phrases before the words inside them
    (r"last month|previous month", "last_month"),
    (r"this month|month to date", "this_month"),
    (r"last 30 days|past 30 days|past month", "last_30_days"),
    (r"this week|last 7 days|past 7 days|past week|last week", "last_7_days"),
    (r"yesterday", "yesterday"),
    (r"today", "today"),
)
PERIOD_WORDS = {"today": "today", "yesterday": "yesterday", "last_7_days": "in the last 7 days",
                "last_30_days": "in the last 30 days", "this_month": "this month",
                "last_month": "last month"}  # fmt: skip
# A lookahead, so "for SKU ABC-1" yields both "SKU" and "ABC-1"; the words below are skipped.
SKU_AFTER = re.compile(r"(?=\b(?:sku|for|of|product)\s+#?([A-Za-z0-9][A-Za-z0-9._/-]*))", re.I)
NOT_SKUS = frozenset({"sku", "the", "a", "an", "product", "for", "of", "my", "our", "next"})


def _has(text: str, pattern: str) -> bool:
    return re.search(pattern, text) is not None


def _period(text: str) -> str | None:
    return next((name for pattern, name in PERIODS if _has(text, rf"\b(?:{pattern})\b")), None)


def _status(text: str) -> OrderStatus | None:
    for status in OrderStatus:
        words = status.value.replace("_", " ")
        if _has(text, rf"\b{words}\b") or (status is OrderStatus.in_production
                                            and _has(text, r"\bin progress\b")):  # fmt: skip
            return status
    return None


def _span(result: dict[str, Any], period: str | None) -> str:
    if period:
        return PERIOD_WORDS[period]
    same = result["from"] == result["to"]
    return f"on {result['from']}" if same else f"from {result['from']} to {result['to']}"


class OfflineProvider:
    """Answers from the tools by recognising the question; no model, no network."""

    name = "offline"

    async def answer(self, history: Sequence[Turn], message: str, tools: ToolSet) -> Answer:
        text = message.lower()
        reply: str | None
        if _has(text, r"\banomal|\bunusual\b|\boutlier"):
            reply = await self._anomalies(tools)
        elif _has(text, r"\bforecast|\bpredict|\bexpected demand\b"):
            reply = await self._forecast(message, tools)
        elif _has(text, r"low on stock|low stock|running (low|out)|out of stock|\breorder"):
            reply = await self._low_stock(tools)
        elif _has(text, r"\border"):
            reply = await self._orders(text, tools)
        else:
            reply = None
        if reply is None:
            reply = (f"I can't answer that here: the built-in assistant only knows a few kinds "
                     f"of question. I can tell you {CAN_ANSWER}.")  # fmt: skip
        return Answer(reply, list(dict.fromkeys(tools.used)), self.name)

    async def _orders(self, text: str, tools: ToolSet) -> str | None:
        period, status = _period(text), _status(text)
        args: dict[str, Any] = {"period": period or "today"}
        if status is not None:
            args["status"] = status.value
        if _has(text, r"\b(list|show|which|latest|recent)\b"):
            listed = await tools.call("list_orders", args)
            if not listed["orders"]:
                return f"There were no orders {_span(listed, period or 'today')}."
            lines = [f"{o['number']} ({o['status'].replace('_', ' ')}, {o['total']:,.2f})"
                     for o in listed["orders"]]  # fmt: skip
            span = _span(listed, period or "today")
            return f"The latest orders {span}: " + "; ".join(lines) + "."
        if not _has(text, r"how many|number of|count|\btotal\b") and period is None and not status:
            return None
        counted = await tools.call("count_orders", args)
        which = f" {status.value.replace('_', ' ')}" if status else ""
        span = _span(counted, period or "today")
        noun = "order" if counted["count"] == 1 else "orders"
        worth = f"worth {counted['revenue']:,.2f} in total"
        reply = f"{counted['count']}{which} {noun} {span}, {worth}."
        if status is None and counted.get("by_status", {}).get("cancelled"):
            reply += f" {counted['by_status']['cancelled']} cancelled ones are not counted."
        return reply

    async def _low_stock(self, tools: ToolSet) -> str:
        found = await tools.call("low_stock", {})
        if not found["count"]:
            return "Nothing is low on stock: every active product is above its reorder level."
        items = [f"{i['sku']} {i['name']}: {i['stock']} in stock (reorder at "
                 f"{i['reorder_threshold']})" for i in found["items"]]  # fmt: skip
        more = f" and {found['count'] - len(items)} more" if found["count"] > len(items) else ""
        n = found["count"]
        return f"{n} product{'s are' if n != 1 else ' is'} low on stock: " + "; ".join(items) + (
            f"{more}.")  # fmt: skip

    async def _forecast(self, message: str, tools: ToolSet) -> str:
        found = [m.rstrip(".?!,;:") for m in SKU_AFTER.findall(message)]
        candidates = [c for c in found if c and c.lower() not in NOT_SKUS]
        for sku in candidates:
            result = await tools.call("demand_forecast", {"sku": sku})
            if "error" in result:
                continue
            if not result["found"]:
                return f"There is no demand forecast for {result['sku']} ({result['name']}) yet."
            reply = (f"Forecast for {result['sku']} ({result['name']}), made "
                     f"{result['made_at'][:10]}: {result['total']:g} units expected from "
                     f"{result['from']} to {result['to']} ({result['model']} model); "
                     f"{result['stock']} in stock.")  # fmt: skip
            if result.get("reorder"):
                reply += (f" Suggested reorder: {result['reorder']['quantity']} units (lead time "
                          f"{result['reorder']['lead_time_days']} days).")  # fmt: skip
            return reply
        if candidates:
            return f"I found no product with the SKU {candidates[-1]}."
        return 'Which product? Ask with its SKU, for example "forecast for SKU ABC-001".'

    async def _anomalies(self, tools: ToolSet) -> str:
        found = await tools.call("recent_anomalies", {})
        if not found["found"]:
            return "No anomaly scan has run yet, so I have no anomalies to report."
        if not found["count"]:
            return f"The latest anomaly scan ({found['scanned_at'][:10]}) found no anomalies."
        texts = " ".join(a["text"] for a in found["anomalies"])
        return (f"The latest anomaly scan ({found['scanned_at'][:10]}) found {found['count']} "
                f"anomalies; the largest: {texts}")  # fmt: skip

    async def close(self) -> None:
        return None
