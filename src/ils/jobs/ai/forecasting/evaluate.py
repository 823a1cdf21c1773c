"""Forecast errors as forecasters judge intermittent demand: MASE and RMSSE (scaled by the
seasonal-naive errors inside the history, as in the M5 competition), the absolute and signed
errors that WAPE and bias pool (:mod:`.summary`), and the days inside a band: the plain count,
and the calibrated count for count data. None where a measure is undefined (no demand, no scale).

Why two counts: a band of whole units such as [0, 1] holds about 99 % of the days of an item that
rarely sells, whatever its nominal level. Czado, Gneiting & Held (2009, "Predictive model
assessment for count data") judge a discrete forecast by its randomized PIT, u = F(y-) + V·P(y)
with V uniform: a calibrated forecast gives uniform u, so u falls inside the central c of [0, 1]
with probability c. :func:`calibrated_inside` counts each day by that probability (the
non-randomized, mid-distribution form), so a calibrated forecast covers c of the days on average.
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


def calibrated_inside(actual: np.ndarray, sims: np.ndarray, level: float) -> float:
    """The expected number of days of ``actual`` whose randomized PIT under the predictive
    distribution of that day (the columns of ``sims``, sample paths) lies in the central
    ``level`` of [0, 1]: per day, the share of [F(y-), F(y)] inside [(1-level)/2, (1+level)/2]."""
    a = np.asarray(actual, dtype=float)
    if a.size == 0:
        return 0.0
    below = np.mean(sims < a[None, :] - 1e-9, axis=0)  # F(y-)
    upto = np.mean(sims <= a[None, :] + 1e-9, axis=0)  # F(y)
    low, high = (1 - level) / 2, (1 + level) / 2
    overlap = np.clip(np.minimum(upto, high) - np.maximum(below, low), 0.0, None)
    mass = upto - below
    point = ((below >= low) & (below <= high)).astype(float)  # no mass at y: u is F(y) itself
    share = np.divide(overlap, mass, out=point, where=mass > 0)
    return float(share.sum())
