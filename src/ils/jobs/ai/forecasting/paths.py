"""Sample paths of future demand, from which come the daily bands and the distribution of the
demand over a lead time (the quantile of a total, not a sum of daily quantiles).

Each path draws a demand rate around the chosen model's daily means (a gamma factor as wide as
the number of recent sales days allows: few sales, uncertain rate), then on each day a sale with
probability rate ÷ mean size and a size drawn from the product's own past sizes. Smooth demand
(a sale most days) is drawn from a count distribution instead (:mod:`.counts`).
"""

from __future__ import annotations

import zlib

import numpy as np

from ils.jobs.ai.forecasting import counts

PATHS = 2_000
RECENT_DAYS = 91
PERCENTS = np.arange(1, 100)  # the lead-time total is kept at every whole percent


def seed_of(y: np.ndarray) -> int:
    """A seed from the history itself: the same history gives the same bands and quantities."""
    return zlib.crc32(np.ascontiguousarray(y, dtype=float).tobytes())


def simulate(y: np.ndarray, mean: np.ndarray, paths: int = PATHS, pattern: str = "") -> np.ndarray:
    """``paths`` by len(mean) simulated daily demands after history ``y`` of ``pattern``."""
    sizes = y[y > 0]
    if len(sizes) == 0 or not np.any(mean > 0):
        return np.zeros((paths, len(mean)))
    rng = np.random.default_rng(seed_of(y))
    if pattern == "smooth":
        return counts.simulate(y, mean, paths, rng)
    sales_days = max(1, int(np.count_nonzero(y[-RECENT_DAYS:])))
    factor = rng.gamma(sales_days, 1.0 / sales_days, size=(paths, 1))
    rate = mean[None, :] * factor / float(sizes.mean())
    sale = rng.random(rate.shape) < np.minimum(rate, 1.0)
    drawn = rng.choice(sizes, size=rate.shape) * np.maximum(rate, 1.0)
    return np.where(sale, drawn, 0.0)


def bands(sims: np.ndarray) -> dict[str, list[float]]:
    """The 80 % and 95 % central bands of each day."""
    q = np.quantile(sims, [0.1, 0.9, 0.025, 0.975], axis=0) if sims.size else np.zeros((4, 0))
    keys = ("lower80", "upper80", "lower95", "upper95")
    return {k: [round(float(v), 3) for v in row] for k, row in zip(keys, q, strict=True)}


def total_quantiles(sims: np.ndarray, days: int) -> list[float]:
    """The 1st to 99th percentiles of the demand summed over the first ``days`` days."""
    totals = sims[:, :days].sum(axis=1)
    return [round(float(v), 2) for v in np.percentile(totals, PERCENTS)]
