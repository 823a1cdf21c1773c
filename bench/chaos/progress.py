"""Timing a recovery: the completed jobs of the queues, and how long after a moment they start
growing again (workers resumed)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from ils.bootstrap import JobSystem
from ils.errors import IlsJobsError


async def completed(system: JobSystem, queues: Sequence[str]) -> int | None:
    """Completed jobs on ``queues``, or None while Redis does not answer."""
    try:
        stats = await system.admin.stats(queues)
    except (IlsJobsError, OSError, ConnectionError):
        return None
    return sum(counts.get("completed", 0) for counts in stats.values())


async def wait_for(
    system: JobSystem, queues: Sequence[str], at_least: int, timeout_s: float
) -> None:
    """Until ``at_least`` jobs completed (Redis answering)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        done = await completed(system, queues)
        if done is not None and done >= at_least:
            return
        await asyncio.sleep(0.2)
    raise TimeoutError(f"fewer than {at_least} jobs completed in {timeout_s:.0f}s")


async def resumed_after(
    system: JobSystem, queues: Sequence[str], since: float, timeout_s: float
) -> float:
    """Seconds from ``since`` (``time.time()``) until the completed count grows, counted from
    its first reading once Redis answers."""
    deadline = time.monotonic() + timeout_s
    first = None
    while time.monotonic() < deadline:
        done = await completed(system, queues)
        if done is not None:
            if first is None:
                first = done
            elif done > first:
                return round(time.time() - since, 2)
        await asyncio.sleep(0.1)
    raise TimeoutError(f"no job completed within {timeout_s:.0f}s of the server coming back")
