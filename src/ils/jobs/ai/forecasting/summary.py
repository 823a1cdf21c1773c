"""Holdout scores of many products pooled by demand pattern: MASE and RMSSE averaged over the
products, WAPE and bias as total absolute and signed error over total demand — for the chosen
models, the rate behind the paths, seasonal naive and zero — and the share of held-out days
inside the daily 80 % and 95 % bands (``coverage80``/``95``, the plain share, conservative for
count data; ``calibrated_coverage80``/``95``, by the randomized PIT, which a calibrated forecast
brings to 80 % and 95 %), and of products whose held-out total lies inside the 80 % and 95 %
intervals of the simulated totals.

Pure Python (the job's process may not have numpy); the rows come from
:func:`ils.jobs.ai.forecasting.pipeline.holdout`.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

FORECASTS = ("chosen", "rate", "seasonal_naive", "zero")


def pooled(rows: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    """One forecast's scores over many products."""

    def mean_of(key: str) -> float | None:
        values = [r[key] for r in rows if r.get(key) is not None]
        return round(statistics.fmean(values), 3) if values else None

    demand = sum(r["demand"] for r in rows)

    def share(key: str) -> float | None:
        return round(100 * sum(r[key] for r in rows) / demand, 1) if demand > 0 else None

    return {"mase": mean_of("mase"), "rmsse": mean_of("rmsse"), "wape": share("abs_error"),
            "bias": share("error")}  # fmt: skip


def _group(holdouts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    days = sum(h["days"] for h in holdouts)

    def per_day(key: str) -> float | None:
        return round(100 * sum(h.get(key, 0) for h in holdouts) / days, 1) if days else None

    return {
        "products": len(holdouts),
        **{name: pooled([h[name] for h in holdouts]) for name in FORECASTS},
        "coverage80": per_day("inside80"),
        "coverage95": per_day("inside95"),
        "calibrated_coverage80": per_day("calibrated80"),
        "calibrated_coverage95": per_day("calibrated95"),
        "total_coverage80": _share([h["total_inside80"] for h in holdouts]),
        "total_coverage95": _share([h["total_inside95"] for h in holdouts]),
    }


def _share(flags: Sequence[bool]) -> float | None:
    return round(100 * sum(flags) / len(flags), 1) if flags else None


def summarise(results: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The holdout scores of the forecasts that have one, over all and by demand pattern."""
    holdouts = [r["holdout"] for r in results if r.get("holdout")]
    patterns = sorted({h["pattern"] for h in holdouts})
    return {
        "all": _group(holdouts),
        "by_pattern": {p: _group([h for h in holdouts if h["pattern"] == p]) for p in patterns},
    }
