"""Forecast errors as forecasters judge intermittent demand: MASE and RMSSE (scaled by the
seasonal-naive errors inside the history, as in the M5 competition), the absolute and signed
errors that WAPE and bias pool (:mod:`.summary`), and the days inside a band. None where a
measure is undefined (no demand, no scale).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

SEASON = 7


def _scales(train: np.ndarray) -> tuple[float, float]:
    if len(train) <= SEASON:
        return 0.0, 0.0
    diff = train[SEASON:] - train[:-SEASON]
    return float(np.mean(np.abs(diff))), float(np.mean(diff**2))


def scores(train: np.ndarray, actual: np.ndarray, forecast: np.ndarray) -> dict[str, float | None]:
    """MASE, RMSSE, the absolute error and the signed error of ``forecast`` against ``actual``
    (summed, for pooling over products), and the demand they are a share of."""
    error = np.asarray(forecast, dtype=float) - np.asarray(actual, dtype=float)
    mae_scale, mse_scale = _scales(train)
    return {
        "mase": float(np.mean(np.abs(error)) / mae_scale) if mae_scale > 0 else None,
        "rmsse": float(np.sqrt(np.mean(error**2) / mse_scale)) if mse_scale > 0 else None,
        "abs_error": float(np.abs(error).sum()),
        "error": float(error.sum()),
        "demand": float(np.sum(actual)),
    }


def inside(actual: np.ndarray, lower: Sequence[float], upper: Sequence[float]) -> int:
    """How many days of ``actual`` lie within [lower, upper]."""
    a = np.asarray(actual, dtype=float)
    return int(np.sum((a >= np.asarray(lower) - 1e-9) & (a <= np.asarray(upper) + 1e-9)))
