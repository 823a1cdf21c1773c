"""Model choice by rolling-origin cross-validation on the product's own history: each candidate
forecasts the ``WINDOW`` days after each of the last ``WINDOWS`` origins, and the one with the
least error wins — daily absolute error plus the error of the window's total (what a buyer
orders), so a noisy copy of last week cannot win a series whose total is steady. Baselines come
first and win ties, so the choice never does worse than they do on the product's own past.

On a product that sells on few days the zero forecast (the median day) often wins that score,
yet a zero median is not a zero risk: the demand rate behind the bands and the lead-time total
comes from the rate methods (:func:`ils.jobs.ai.forecasting.models.rate`); ``rate_model`` names
the best of them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ils.jobs.ai.forecasting import models

WINDOW = 14
WINDOWS = 3
MIN_TRAIN = 28
MIN_HISTORY = MIN_TRAIN + WINDOW * WINDOWS


@dataclass(frozen=True)
class Choice:
    model: str
    rate_model: str  # the best candidate that is not a baseline
    scores: dict[str, float]  # cross-validated error of every candidate, lower is better


def window_error(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.abs(forecast - actual).sum() + abs(forecast.sum() - actual.sum()))


def cross_validate(y: np.ndarray, names: Sequence[str]) -> dict[str, float]:
    """Each candidate's error summed over the ``WINDOWS`` last windows of ``y``."""
    totals = dict.fromkeys(names, 0.0)
    for k in range(WINDOWS, 0, -1):
        origin = len(y) - k * WINDOW
        train, test = y[:origin], y[origin : origin + WINDOW]
        for name, forecast in models.predict_many(names, train, WINDOW).items():
            totals[name] += window_error(test, forecast)
    return totals


def choose(y: np.ndarray, pattern: str) -> Choice:
    """The candidate of ``pattern`` with the least cross-validated error on ``y`` (which holds
    at least ``MIN_HISTORY`` days)."""
    names = models.candidates(pattern)
    scores = cross_validate(y, names)

    def best(among: list[str]) -> str:
        return min(among, key=lambda n: (scores[n], names.index(n)))

    rate = best([n for n in names if n not in models.BASELINES])
    return Choice(best(names), rate, {n: round(s, 3) for n, s in scores.items()})
