"""Daily demand of known generating processes, one per demand pattern, with a weekly season and,
on request, a trend break: what the forecasting tests and the benchmark's simulated catalogue
forecast, so the truth (pattern, rate) is known."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

WEEK = np.array([1.2, 1.1, 1.1, 1.2, 1.3, 0.8, 0.3])  # Monday first; quiet weekends
PATTERNS = ("smooth", "erratic", "intermittent", "lumpy")


@dataclass(frozen=True)
class Process:
    pattern: str
    rate: np.ndarray  # expected demand of each day (the truth a forecast is scored against)
    sample: np.ndarray


def _rates(
    base: float, days: int, break_at: int | None, factor: float, week: np.ndarray = WEEK
) -> np.ndarray:
    t = np.arange(days)
    level = np.where(t >= break_at, base * factor, base) if break_at is not None else base
    return np.asarray(level * week[t % 7] / week.mean(), dtype=float)


def generate(
    pattern: str,
    seed: int,
    days: int = 365,
    break_at: int | None = None,
    factor: float = 1.0,
    shape: float | None = None,
) -> Process:
    """A series of ``pattern``: smooth (Poisson, 4-10 a day), erratic (most days, sizes of a
    wide negative binomial), intermittent (Poisson, 0.1-0.5 a day: single units), lumpy (a sale
    on 5-25 % of days, sizes of a wide negative binomial). ``factor`` scales the level from day
    ``break_at`` on (a trend break). ``shape`` makes smooth days negative binomial of that shape
    k (variance rate + rate²/k: each day's rate times a gamma of mean 1) instead of Poisson."""
    rng = np.random.default_rng(seed)
    if pattern == "smooth":
        rate = _rates(rng.uniform(4, 10), days, break_at, factor)
        mixed = rate * rng.gamma(shape, 1 / shape, days) if shape is not None else rate
        return Process(pattern, rate, rng.poisson(mixed).astype(float))
    if pattern == "intermittent":
        rate = _rates(rng.uniform(0.1, 0.5), days, break_at, factor)
        return Process(pattern, rate, np.minimum(rng.poisson(rate), 2).astype(float))
    if pattern in ("erratic", "lumpy"):
        chance = rng.uniform(0.85, 0.97) if pattern == "erratic" else rng.uniform(0.05, 0.25)
        size_mean = rng.uniform(3, 8)
        # Erratic sells on nearly every day, so its weekday season is in the odds only mildly.
        week = WEEK if pattern == "lumpy" else np.sqrt(WEEK)
        odds = _rates(chance, days, break_at, factor, week)
        sale = rng.random(days) < np.minimum(odds, 1.0)
        # Negative binomial sizes with shape 0.8 (CV² about 1.3), shifted to at least one.
        sizes = 1 + rng.negative_binomial(0.8, 0.8 / (0.8 + size_mean - 1), days)
        rate = np.minimum(odds, 1.0) * size_mean
        return Process(pattern, rate, np.where(sale, sizes, 0).astype(float))
    raise ValueError(f"unknown pattern {pattern!r}; one of {', '.join(PATTERNS)}")


def catalogue(per_pattern: int, days: int = 365, seed: int = 0) -> list[Process]:
    """``per_pattern`` series of each pattern; every other one breaks at day ``days - 60``
    (halved or up by 60 %), so some histories end on a level the past does not show."""
    out = []
    for i in range(per_pattern):
        for j, pattern in enumerate(PATTERNS):
            broken = i % 2 == 1
            factor = (0.5 if i % 4 == 1 else 1.6) if broken else 1.0
            out.append(generate(pattern, seed * 10_000 + i * 10 + j, days,
                                days - 60 if broken else None, factor))  # fmt: skip
    return out
