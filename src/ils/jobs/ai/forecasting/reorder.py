"""Reorder suggestions from the distribution of the demand over lead time + review period: order
now what lifts stock on hand plus open purchase orders to that demand's quantile at the service
level, and say the risk of running out before the next delivery without the order.

Pure Python on the stored percentiles, so the job, the API and the briefing compute it alike (a
company's own service level applied to a forecast already made).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

DEFAULT_SERVICE_LEVEL = 0.95
REVIEW_DAYS = 7  # a lab places its purchase orders about once a week


def quantile(percentiles: Sequence[float], level: float) -> float:
    """The demand at ``level`` (0.01 to 0.99) from the 1st to 99th percentiles, interpolated."""
    if not percentiles:
        return 0.0
    at = min(max(level * 100, 1.0), 99.0) - 1
    low = math.floor(at)
    high = min(low + 1, len(percentiles) - 1)
    return float(percentiles[low] + (percentiles[high] - percentiles[low]) * (at - low))


def stockout_risk(percentiles: Sequence[float], position: float) -> float:
    """The share of outcomes in which the demand over the period exceeds ``position``."""
    if not percentiles:
        return 0.0
    above = sum(1 for v in percentiles if v > position)
    return round(above / (len(percentiles) + 1), 2)


def suggestion(
    cover: dict[str, Any],
    stock: int,
    on_order: int,
    lead_time_days: int,
    service_level: float = DEFAULT_SERVICE_LEVEL,
) -> dict[str, Any]:
    """What to order now for ``cover`` (days, mean and percentiles of the demand over lead time
    + review period): the quantity (0 when stock and open orders suffice) and the risks."""
    percentiles = cover.get("percentiles") or []
    target = quantile(percentiles, service_level)
    position = max(0, stock) + max(0, on_order)
    quantity = max(0, math.ceil(target - position - 1e-9))
    return {
        "quantity": quantity,
        "service_level": service_level,
        "cover_days": cover.get("days", 0),
        "lead_time_days": lead_time_days,
        "review_days": max(0, cover.get("days", 0) - lead_time_days),
        "expected_demand": cover.get("mean", 0.0),
        "demand_at_service_level": round(target, 1),
        "stock": stock,
        "on_order": on_order,
        "stockout_risk_without_order": stockout_risk(percentiles, position),
        "stockout_risk_with_order": stockout_risk(percentiles, position + quantity),
    }


def sentence(sku: str, s: dict[str, Any]) -> str:
    """The suggestion as a buyer reads it."""
    risk = round(100 * s["stockout_risk_without_order"])
    return (
        f"{sku}: order {s['quantity']} now ({s['stock']} in stock, {s['on_order']} on order; "
        f"{s['demand_at_service_level']:g} needed over {s['cover_days']} days at "
        f"{round(100 * s['service_level'])}% service), else a {risk}% risk of running out "
        "before the next delivery."
    )
