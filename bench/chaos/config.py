"""The suite's knobs: the full run's sizes, and ``--quick``'s (seconds, for the test)."""

from __future__ import annotations

from dataclasses import dataclass, field

from bench.chaos.stack import Tuning


@dataclass(frozen=True)
class Config:
    jobs: int = 10_000  # the kill scenario's mix
    small_jobs: int = 1_000  # the other scenarios' mix
    workers: int = 2
    kill_every_s: float = 4.0
    restarts: int = 2
    outage_s: float = 120.0
    orders: int = 200
    poison: int = 50
    tuning: Tuning = field(default_factory=Tuning)


QUICK = Config(
    jobs=60,
    small_jobs=30,
    kill_every_s=2.0,
    restarts=1,
    outage_s=3.0,
    orders=10,
    poison=4,
    tuning=Tuning(lock_ms=2_000, stalled_ms=1_000),
)
