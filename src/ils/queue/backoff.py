"""Retry delays: the backoff schedules of ILS Jobs and the strategy we hand to BullMQ.

Guard 6 (ARCHITECTURE.md): BullMQ ignores jitter and rounds delays below ~1 s up, so the jittered
schedule is ours, registered as a custom BullMQ backoff strategy under the type name
``exponential_jitter``.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

JITTER_TYPE = "exponential_jitter"
MAX_DELAY_MS = 6 * 3600 * 1000


def jittered_exponential_ms(
    base_ms: int, attempt: int, rng: random.Random | None = None, cap_ms: int = MAX_DELAY_MS
) -> int:
    """Delay before retry number ``attempt`` (1-based): equal jitter on ``base * 2**(attempt-1)``.

    The result lies in ``[ceiling/2, ceiling]`` with ``ceiling = min(cap, base * 2**(attempt-1))``,
    so retries of many jobs failing together spread out instead of arriving in one burst.
    """
    if attempt < 1:
        raise ValueError("attempt is 1-based")
    ceiling = min(cap_ms, base_ms * 2 ** min(attempt - 1, 62))
    half = ceiling / 2
    return int(half + (rng or random).random() * half)


def backoff_option(kind: str, base_ms: int) -> dict[str, Any]:
    """The ``backoff`` job option for a queue's configured schedule."""
    return {"type": kind, "delay": base_ms}


def bullmq_strategy(rng: random.Random | None = None) -> Callable[..., int]:
    """The custom strategy BullMQ calls for backoff types it does not know itself."""

    def strategy(attempts_made: int, backoff_type: str, _err: Any, job: Any) -> int:
        if backoff_type != JITTER_TYPE:
            # -1 tells BullMQ to fail the job now rather than guess a schedule.
            return -1
        base = int(((job.opts or {}).get("backoff") or {}).get("delay") or 0)
        return jittered_exponential_ms(base, max(1, attempts_made), rng)

    return strategy
