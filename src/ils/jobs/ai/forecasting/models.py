"""The candidate forecasts by name: the zero and seasonal-naive baselines, the intermittent-demand
methods of statsforecast (Croston optimised, SBA, TSB, ADIDA, IMAPA) alone and shaped by the
product's weekday profile, and seasonal exponential smoothing for series that sell most days.

Each is ``f(history, horizon) -> daily means`` (never negative); the only module that imports
statsforecast, so nothing else pays for numba.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

# Compiled numba functions are cached on disk, so a new pool process does not compile them again.
os.environ.setdefault("NIXTLA_NUMBA_CACHE", "1")  # read when statsforecast is imported

from statsforecast.models import (
    ADIDA,
    IMAPA,
    TSB,
    CrostonOptimized,
    CrostonSBA,
    SeasonalExponentialSmoothingOptimized,
)

SEASON = 7
ZERO = "zero"
SEASONAL_NAIVE = "seasonal-naive"
BASELINES = (ZERO, SEASONAL_NAIVE)
INTERMITTENT = ("croston", "sba", "tsb", "adida", "imapa")
WEEKDAY = "+weekday"
SEASONAL_ES = "seasonal-es"
# Weeks of history the weekday profile is taken from (recent enough to follow a change).
PROFILE_WEEKS = 26

Forecaster = Callable[[np.ndarray, int], np.ndarray]


def seasonal_naive(y: np.ndarray, h: int) -> np.ndarray:
    """Each day as the same weekday of the last week seen (the mean of a shorter history)."""
    if len(y) < SEASON:
        return np.full(h, float(np.mean(y)) if len(y) else 0.0)
    return np.resize(y[-SEASON:], h).astype(float)


def weekday_weights(y: np.ndarray) -> np.ndarray:
    """Each position in the week's share of a week's demand times 7 (position counted from the
    start of ``y``), from the last weeks of ``y`` and shrunk towards 1 (an even week) so a
    weekday with few sales is not read as a pattern."""
    recent = y[-PROFILE_WEEKS * SEASON :]
    total = float(recent.sum())
    if total <= 0:
        return np.ones(SEASON)
    slots = np.arange(len(y) - len(recent), len(y)) % SEASON
    sums = np.bincount(slots, weights=recent, minlength=SEASON)
    prior = max(1.0, total / 70)
    return np.asarray(SEASON * (sums + prior) / (total + SEASON * prior))


def weekday_profile(y: np.ndarray, h: int) -> np.ndarray:
    """The weekday weights (:func:`weekday_weights`) of the ``h`` days after ``y``."""
    return np.asarray(weekday_weights(y)[np.arange(len(y), len(y) + h) % SEASON])


def _statsforecast(model: Any) -> Forecaster:
    def forecast(y: np.ndarray, h: int) -> np.ndarray:
        mean = np.array(model.forecast(y=y, h=h)["mean"], dtype=np.float64)
        return np.asarray(np.clip(np.nan_to_num(mean, nan=0.0, posinf=0.0), 0.0, None))

    return forecast


def _zero(y: np.ndarray, h: int) -> np.ndarray:
    return np.zeros(h)


def _build() -> dict[str, Forecaster]:
    methods: dict[str, Forecaster] = {
        ZERO: _zero,
        SEASONAL_NAIVE: seasonal_naive,
        "croston": _statsforecast(CrostonOptimized()),
        "sba": _statsforecast(CrostonSBA()),
        "tsb": _statsforecast(TSB(alpha_d=0.1, alpha_p=0.1)),
        "adida": _statsforecast(ADIDA()),
        "imapa": _statsforecast(IMAPA()),
        # A level per weekday, each smoothed: ETS with a weekly season (AutoETS "ANA") chose
        # alike on daily sales at 15 times the cost.
        SEASONAL_ES: _statsforecast(SeasonalExponentialSmoothingOptimized(season_length=SEASON)),
    }
    return methods


METHODS = _build()


def candidates(pattern: str) -> list[str]:
    """The methods tried for a pattern, baselines first (they win ties)."""
    names = [*BASELINES, *INTERMITTENT, *(n + WEEKDAY for n in INTERMITTENT)]
    if pattern in ("smooth", "erratic"):
        names.append(SEASONAL_ES)
    return names


def predict_many(names: Sequence[str], y: np.ndarray, h: int) -> dict[str, np.ndarray]:
    """The daily means of each method in ``names`` for ``h`` days after ``y``; a ``+weekday``
    method is its base method's forecast shaped by the weekday profile (the base fitted once)."""
    out: dict[str, np.ndarray] = {}
    profile = None
    for name in names:
        base = name.removesuffix(WEEKDAY)
        if base not in out:
            out[base] = METHODS[base](y, h)
        if name != base:
            profile = weekday_profile(y, h) if profile is None else profile
            out[name] = out[base] * profile
    return {name: out[name] for name in names}


def rate(pattern: str, y: np.ndarray, h: int) -> np.ndarray:
    """The demand rate behind the sample paths: the mean of every rate method of ``pattern``
    (all candidates but the baselines). One method chosen on three windows follows their luck —
    TSB decays after a dry month — while the combination stays near the long-run rate and still
    follows a level that moved."""
    names = [n for n in candidates(pattern) if n not in BASELINES]
    return np.asarray(np.mean(list(predict_many(names, y, h).values()), axis=0))


def predict(name: str, y: np.ndarray, h: int) -> np.ndarray:
    """The daily means of method ``name`` for ``h`` days after ``y``."""
    return predict_many([name], y, h)[name]
