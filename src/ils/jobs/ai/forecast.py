"""Daily demand forecasts: Holt-Winters (additive, damped trend, weekly season) from statsmodels,
the seasonal-naive model as baseline and as the fallback for short or empty histories, holdout
errors of both, and prediction intervals.

Pure functions on plain lists, run in the model pool's processes (:mod:`ils.jobs.ai.pool`).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
from statsmodels.tools.sm_exceptions import ConvergenceWarning
from statsmodels.tsa.holtwinters import ExponentialSmoothing

Series = Sequence[float] | np.ndarray

SEASON = 7
HOLDOUT = 30
# Holt-Winters needs some weeks to learn a weekly season; below this the fallback is used.
MIN_TRAIN = 8 * SEASON
Z80, Z95 = 1.2816, 1.9600
HOLT_WINTERS = "holt-winters"
SEASONAL_NAIVE = "seasonal-naive"


def seasonal_naive(history: Series, horizon: int, season: int = SEASON) -> np.ndarray:
    """Each day forecast as the same weekday of the last week seen."""
    last = np.asarray(history[-season:], dtype=float)
    if len(last) < season:  # under a week: the mean of what there is
        return np.full(horizon, float(np.mean(last)) if len(last) else 0.0)
    return np.array([last[i % season] for i in range(horizon)])


def mape(actual: Series, forecast: Series) -> float | None:
    """Mean absolute percentage error (%) over the days with demand; None when there are none
    (a percentage of zero is undefined)."""
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    seen = a > 0
    if not seen.any():
        return None
    return float(np.mean(np.abs(a[seen] - f[seen]) / a[seen]) * 100)


def wape(actual: Series, forecast: Series) -> float | None:
    """Weighted absolute percentage error (%): total absolute error over total demand."""
    a, f = np.asarray(actual, dtype=float), np.asarray(forecast, dtype=float)
    total = float(a.sum())
    if total <= 0:
        return None
    return float(np.abs(a - f).sum() / total * 100)


HW_FORM: dict[str, Any] = {"trend": "add", "damped_trend": True, "seasonal": "add",
                           "seasonal_periods": SEASON}  # fmt: skip
FIT_ERRORS = (ArithmeticError, ValueError, np.linalg.LinAlgError)


def _quiet_fit(model: ExponentialSmoothing, **kwargs: Any) -> Any:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        return model.fit(**kwargs)


def fit_holt_winters(history: np.ndarray) -> Any:
    """Holt-Winters with every parameter estimated (a local optimiser from statsmodels' start
    values; its brute-force grid costs twice the time for no better holdout error)."""
    model = ExponentialSmoothing(history, initialization_method="estimated", **HW_FORM)
    return _quiet_fit(model, optimized=True, use_brute=False)


def extend_holt_winters(fit: Any, history: np.ndarray) -> Any:
    """``fit``'s parameters run over the longer ``history``: the states catch up with the days
    held out without estimating again (one pass instead of an optimisation)."""
    p = fit.params
    model = ExponentialSmoothing(
        history, initialization_method="known", initial_level=p["initial_level"],
        initial_trend=p["initial_trend"], initial_seasonal=p["initial_seasons"], **HW_FORM,
    )  # fmt: skip
    return _quiet_fit(
        model, optimized=False, smoothing_level=p["smoothing_level"],
        smoothing_trend=p["smoothing_trend"], smoothing_seasonal=p["smoothing_seasonal"],
        damping_trend=p["damping_trend"],
    )  # fmt: skip


def _hw_forecast(fit: Any, history: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """The forecast of a fit and the spread of each step's error (the one-step residual spread,
    widened with the horizon as for exponential smoothing)."""
    mean = np.asarray(fit.forecast(horizon), dtype=float)
    if not np.all(np.isfinite(mean)):
        raise ArithmeticError("Holt-Winters gave a non-finite forecast")
    residuals = history - np.asarray(fit.fittedvalues, dtype=float)
    sigma = float(np.std(residuals[SEASON:], ddof=1)) if len(residuals) > SEASON + 1 else 0.0
    alpha = float(fit.params.get("smoothing_level") or 0.0)
    steps = np.arange(1, horizon + 1)
    return mean, sigma * np.sqrt(1 + (steps - 1) * alpha**2)


def _naive_forecast(history: np.ndarray, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    if len(history) <= SEASON + 1:
        sigma = float(np.std(history, ddof=1)) if len(history) > 1 else 0.0
    else:
        sigma = float(np.std(history[SEASON:] - history[:-SEASON], ddof=1))
    steps = np.arange(1, horizon + 1)
    return seasonal_naive(history, horizon), sigma * np.sqrt((steps - 1) // SEASON + 1)


def _intervals(mean: np.ndarray, spreads: np.ndarray) -> dict[str, list[float]]:
    def clip(values: np.ndarray) -> list[float]:
        return [round(max(0.0, float(v)), 3) for v in values]

    return {
        "mean": clip(mean),
        "lower80": clip(mean - Z80 * spreads),
        "upper80": clip(mean + Z80 * spreads),
        "lower95": clip(mean - Z95 * spreads),
        "upper95": clip(mean + Z95 * spreads),
    }


def _scores(test: np.ndarray, forecast: np.ndarray | None, naive: np.ndarray) -> dict[str, Any]:
    hw = np.clip(forecast, 0, None) if forecast is not None else None
    return {
        "days": len(test),
        "mape": mape(test, hw) if hw is not None else None,
        "wape": wape(test, hw) if hw is not None else None,
        "mape_naive": mape(test, naive),
        "wape_naive": wape(test, naive),
    }


def forecast_series(history: Sequence[float], horizon: int) -> dict[str, Any]:
    """Forecast ``horizon`` days after ``history`` (daily demand, oldest first).

    Holt-Winters when there are at least 8 weeks with some demand, else (or when its fit fails)
    seasonal naive. With 30 more days, Holt-Winters is estimated without the last 30, scored on
    them next to seasonal naive (``holdout``), then run on over them to forecast.
    """
    y = np.asarray(history, dtype=float)
    train, test = y[:-HOLDOUT], y[-HOLDOUT:]
    holds_out = len(y) >= HOLDOUT + SEASON
    naive_holdout = seasonal_naive(train, HOLDOUT) if holds_out else None
    model, reason, holdout = SEASONAL_NAIVE, "short history", None
    mean, spreads = _naive_forecast(y, horizon)
    try:
        if len(train) >= MIN_TRAIN and train.sum() > 0:
            fit = fit_holt_winters(train)
            scored, _ = _hw_forecast(fit, train, HOLDOUT)
            holdout = _scores(test, scored, naive_holdout)  # type: ignore[arg-type]
            mean, spreads = _hw_forecast(extend_holt_winters(fit, y), y, horizon)
            model, reason = HOLT_WINTERS, ""
        elif len(y) >= MIN_TRAIN and y.sum() > 0:
            mean, spreads = _hw_forecast(fit_holt_winters(y), y, horizon)
            model, reason = HOLT_WINTERS, ""
        elif len(y) >= MIN_TRAIN:
            reason = "no demand in the history"
    except FIT_ERRORS as exc:
        model, reason, holdout = SEASONAL_NAIVE, f"Holt-Winters failed: {exc}", None
        mean, spreads = _naive_forecast(y, horizon)
    if holdout is None and naive_holdout is not None:
        holdout = _scores(test, None, naive_holdout)
    result: dict[str, Any] = {
        "model": model,
        "history_days": len(y),
        "history_total": float(y.sum()),
        "holdout": holdout,
        **_intervals(mean, spreads),
    }
    if reason:
        result["fallback_reason"] = reason
    return result


def forecast_batch(items: Sequence[tuple[int, Sequence[float]]], horizon: int) -> list[Any]:
    """:func:`forecast_series` for several keyed series: one pool round trip for many products."""
    return [(key, forecast_series(series, horizon)) for key, series in items]
