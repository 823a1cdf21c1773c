"""One product's forecast, step by step: clean the history -> classify its pattern -> choose a
model by cross-validation -> forecast -> simulate paths -> daily bands and the lead-time total;
and the same on a held-out tail, scored against the baselines (what the benchmark reports).

The functions the model pool runs (:data:`ils.jobs.ai.pool.MODELS`): plain lists in, plain dicts
out, never NaN.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from ils.jobs.ai.forecasting import evaluate, models, paths
from ils.jobs.ai.forecasting.choose import MIN_HISTORY, Choice, choose
from ils.jobs.ai.forecasting.classify import Pattern, classify, clean

HOLDOUT = 28
NOT_ENOUGH = "not enough history"
FALLBACK = "sba"  # too short to cross-validate: Croston's method with the SBA bias correction


def _choice(y: np.ndarray, pattern: Pattern) -> tuple[Choice, str | None]:
    """The models, and why they are a fallback (None when chosen by cross-validation)."""
    if pattern.label == "none":
        sales = "no sale" if pattern.demand_days == 0 else "one sale"
        return Choice(models.ZERO, models.ZERO, {}), f"{NOT_ENOUGH}: {sales} in {len(y)} days"
    if len(y) < MIN_HISTORY:
        why = f"{NOT_ENOUGH} to cross-validate: {len(y)} days, {MIN_HISTORY} needed"
        return Choice(FALLBACK, FALLBACK, {}), why
    return choose(y, pattern.label), None


def fit(y: np.ndarray, horizon: int) -> tuple[dict[str, Any], np.ndarray, np.ndarray]:
    """The forecast summary of a cleaned history, its daily means and its sample paths."""
    pattern = classify(y)
    choice, why = _choice(y, pattern)
    mean = models.predict(choice.model, y, horizon)
    rate = models.rate(pattern.label, y, horizon) if choice.scores else mean
    sims = paths.simulate(y, rate, pattern=pattern.label)
    summary = {
        "model": choice.model,
        "rate_model": choice.rate_model,
        "pattern": {"label": pattern.label, "adi": pattern.adi, "cv2": pattern.cv2,
                    "demand_days": pattern.demand_days},
        "fallback_reason": why,
        "cv_error": {k: choice.scores[k] for k in (choice.model, choice.rate_model,
                     *models.BASELINES) if k in choice.scores} or None,
    }  # fmt: skip
    return summary, mean, sims


def holdout(y: np.ndarray) -> dict[str, Any] | None:
    """The whole method run on ``y`` without its last ``HOLDOUT`` days and scored on them next
    to the seasonal-naive and zero forecasts, with how many days fell inside the bands."""
    if len(y) < MIN_HISTORY + HOLDOUT:
        return None
    train, test = y[:-HOLDOUT], y[-HOLDOUT:]
    summary, mean, sims = fit(train, HOLDOUT)
    b = paths.bands(sims)
    total = paths.total_quantiles(sims, HOLDOUT)
    actual = float(test.sum())
    return {
        "pattern": summary["pattern"]["label"],
        "model": summary["model"],
        "days": HOLDOUT,
        "chosen": evaluate.scores(train, test, mean),
        "seasonal_naive": evaluate.scores(train, test, models.seasonal_naive(train, HOLDOUT)),
        "zero": evaluate.scores(train, test, np.zeros(HOLDOUT)),
        "rate": evaluate.scores(train, test, sims.mean(axis=0)),
        "inside80": evaluate.inside(test, b["lower80"], b["upper80"]),
        "inside95": evaluate.inside(test, b["lower95"], b["upper95"]),
        "calibrated80": evaluate.calibrated_inside(test, sims, 0.8),
        "calibrated95": evaluate.calibrated_inside(test, sims, 0.95),
        # The held-out total inside the central 80 % / 95 % of the simulated totals.
        "total_inside80": bool(total[9] <= actual <= total[89]),
        "total_inside95": bool(total[1] <= actual <= total[97]),
    }


def forecast_series(
    history: Sequence[float], horizon: int, cover_days: int = 0, scored: bool = True
) -> dict[str, Any]:
    """Forecast ``horizon`` days after ``history`` (daily demand, oldest first) with daily bands,
    and the percentiles of the demand over the next ``cover_days`` days (lead time + review)."""
    y, ignored = clean(history)
    days = max(horizon, cover_days, 1)
    summary, mean, sims = fit(y, days)
    return {
        **summary,
        "history_days": len(y),
        "history_total": float(y.sum()),
        "ignored_days": ignored,
        "mean": [round(float(v), 3) for v in mean[:horizon]],
        **{k: v[:horizon] for k, v in paths.bands(sims).items()},
        "cover": {
            "days": cover_days,
            "mean": round(float(sims[:, :cover_days].sum(axis=1).mean()), 2),
            "percentiles": paths.total_quantiles(sims, cover_days),
        },
        "holdout": holdout(y) if scored else None,
    }


def forecast_batch(
    items: Sequence[tuple[int, Sequence[float], int]], horizon: int, scored: bool = True
) -> list[tuple[int, dict[str, Any]]]:
    """:func:`forecast_series` for several keyed (key, history, cover days) series: one pool
    round trip for many products."""
    return [(key, forecast_series(h, horizon, cover, scored)) for key, h, cover in items]
