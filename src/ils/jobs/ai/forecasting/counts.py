"""Sample paths of smooth demand (a sale on most days, sizes that vary little) from a count
distribution: each day Poisson, or negative binomial when the recent days vary more than Poisson,
around the rate methods' level shaped by the weekday weights, counted in the unit the product
sells in; the dispersion and the uncertainty of the level read from the recent days, after the
last change of level found in the weekly totals.

Why not the past days themselves (:mod:`.paths`, right for intermittent demand): a day drawn from
a year of every weekday and both sides of a change of level varies far more than a day of one
weekday at today's level, so the bands held 98-99 % of held-out days, not 95 %.
"""

from __future__ import annotations

import numpy as np

from ils.jobs.ai.forecasting import models
from ils.jobs.ai.forecasting.models import SEASON

RECENT_WEEKS = 13
SEARCH_WEEKS = 26  # the weeks searched for a change of level
MIN_AFTER_WEEKS = 3  # a change must leave this many weeks to read the new level from
MIN_BEFORE_WEEKS = 4
CHANGE_T = 4.0  # the t of the weekly totals before and after (pooled spread) that is a change
OVER_SE = 2.0


def level_start(y: np.ndarray) -> int:
    """How many of the last days of ``y`` hold its current level: the weeks after the clearest
    change of level among the last ``SEARCH_WEEKS`` (weekly totals before and after differ by
    more than ``CHANGE_T`` standard errors), else ``RECENT_WEEKS`` weeks."""
    n = min(len(y) // SEASON, SEARCH_WEEKS)
    default = min(len(y), RECENT_WEEKS * SEASON)
    if n < MIN_AFTER_WEEKS + MIN_BEFORE_WEEKS:
        return default
    weeks = y[len(y) - n * SEASON :].reshape(n, SEASON).sum(axis=1)
    best, best_t = 0, CHANGE_T
    for k in range(MIN_AFTER_WEEKS, n - MIN_BEFORE_WEEKS + 1):
        before, after = weeks[:-k], weeks[-k:]
        spread = (before.var() * len(before) + after.var() * len(after)) / (n - 2)
        se = np.sqrt(spread * (1 / len(before) + 1 / len(after)))
        t = abs(after.mean() - before.mean()) / max(se, 1e-9)
        if t > best_t:
            best, best_t = k, t
    return min(default, best * SEASON) if best else default


def dispersion(recent: np.ndarray, shape: np.ndarray) -> float | None:
    """The negative-binomial shape k (variance mu + mu²/k) of the days ``recent`` around their
    level times ``shape`` (their weekday weights), by the moments of the residuals; None (Poisson)
    unless they vary more than Poisson by over ``OVER_SE`` standard errors of Pearson's
    statistic."""
    level = float(recent.sum() / shape.sum())
    if level <= 0:
        return None
    mu = level * shape
    df = max(len(recent) - 1, 1)
    squares = (recent - mu) ** 2
    if float(np.sum(squares / mu)) / df <= 1 + OVER_SE * np.sqrt(2 / df):
        return None
    excess = float(squares.sum()) * len(recent) / df - float(mu.sum())
    return float(np.sum(mu**2) / excess) if excess > 0 else None


def sale_unit(y: np.ndarray) -> float:
    """The unit the product sells in: the greatest common divisor of its daily quantities (2 for
    lenses sold in pairs), 1 when they are not whole numbers."""
    sold = y[y > 0]
    whole = np.round(sold)
    if len(sold) == 0 or not np.allclose(sold, whole):
        return 1.0
    return float(max(1, np.gcd.reduce(whole.astype(np.int64))))


def simulate(y: np.ndarray, mean: np.ndarray, paths: int, rng: np.random.Generator) -> np.ndarray:
    """``paths`` by len(mean) daily counts after smooth history ``y``: the level of ``mean``
    (the rate methods' forecast) over the horizon shaped by the weekday weights; a gamma factor
    per path for the uncertainty of that level, as wide as the recent sales days allow; then
    each day Poisson, or negative binomial of the recent days' dispersion."""
    unit = sale_unit(y)
    y, mean = y / unit, mean / unit
    days = level_start(y)
    recent = y[-days:]
    weights = models.weekday_weights(y)
    past = weights[np.arange(len(y) - days, len(y)) % SEASON]
    future = weights[np.arange(len(y), len(y) + len(mean)) % SEASON]
    mu = float(mean.mean() / future.mean()) * future
    sales_days = max(1, int(np.count_nonzero(recent)))
    rate = mu[None, :] * rng.gamma(sales_days, 1.0 / sales_days, size=(paths, 1))
    k = dispersion(recent, past)
    if k is not None:
        rate = rate * rng.gamma(k, 1.0 / k, size=rate.shape)
    return rng.poisson(rate).astype(float) * unit
