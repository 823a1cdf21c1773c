"""What every scenario shares: waiting for the jobs of a mix to finish (through outages), the jobs
that ended failed, and a scenario's result (its audit and its own figures)."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bench.chaos.audit import Tally
from bench.chaos.mix import Expected
from redis.exceptions import RedisError

from ils.bootstrap import JobSystem
from ils.errors import JobNotFound


@dataclass
class Result:
    """One scenario's outcome: the audit per kind, jobs not completed, and its figures
    (recovery times and counts, in seconds where timed)."""

    name: str
    seconds: float = 0.0  # from the first worker's start to the last job finished
    wall_s: float = 0.0  # the whole scenario: set-up, enqueueing, the run, the audit, tear-down
    jobs: int = 0
    tallies: dict[str, Tally] = field(default_factory=dict)
    failed: list[dict[str, str]] = field(default_factory=list)
    figures: dict[str, Any] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return sum(t.lost for t in self.tallies.values())

    @property
    def duplicated(self) -> int:
        return sum(t.duplicated for t in self.tallies.values())

    @property
    def resent(self) -> int:
        return sum(t.resent for t in self.tallies.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "seconds": round(self.seconds, 1),
            "wall_s": round(self.wall_s, 1),
            "jobs": self.jobs,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "resent": self.resent,
            "kinds": {k: t.as_dict() for k, t in sorted(self.tallies.items())},
            "failed": self.failed[:20],
            "failed_count": len(self.failed),
            "figures": self.figures,
        }


def log(message: str) -> None:
    """A progress line on stderr."""
    print(f"chaos:   {message}", file=sys.stderr, flush=True)


async def unfinished(system: JobSystem, expected: Sequence[Expected]) -> int | None:
    """How many jobs of ``expected`` are neither completed nor failed (None while Redis does not
    answer). The queues themselves may stay busy after: the event dispatcher's follow-up passes,
    the platform schedules' next runs; the scenarios wait for the jobs they audit."""
    by_queue: dict[str, list[str]] = {}
    for e in expected:
        by_queue.setdefault(e.queue, []).append(e.job_id)
    client = system.broker.admin_client
    left = 0
    try:
        for queue, ids in by_queue.items():
            keys = system.broker.queues.get(queue).keys
            done = await client.zmscore(keys["completed"], ids)
            failed = await client.zmscore(keys["failed"], ids)
            left += sum(1 for d, f in zip(done, failed, strict=True) if d is None and f is None)
    except (RedisError, OSError):
        return None
    return left


async def finish(system: JobSystem, expected: Sequence[Expected], timeout_s: float) -> float:
    """Wait until every job of ``expected`` has completed or failed; the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout_s:
        if await unfinished(system, expected) == 0:
            return time.monotonic() - start
        await asyncio.sleep(0.5)
    left = await unfinished(system, expected)
    raise TimeoutError(f"{left} jobs of the mix not finished after {timeout_s:.0f}s")


async def not_completed(system: JobSystem, expected: Sequence[Expected]) -> list[dict[str, str]]:
    """The jobs of ``expected`` that did not complete, with their state and reason."""
    out = []
    by_queue: dict[str, set[str]] = {}
    for e in expected:
        by_queue.setdefault(e.queue, set()).add(e.job_id)
    for queue, ids in by_queue.items():
        q = system.broker.queues.get(queue)
        done = await system.broker.admin_client.zrange(q.keys["completed"], 0, -1)
        for job_id in sorted(ids - {d.decode() if isinstance(d, bytes) else d for d in done}):
            try:
                view = await system.admin.get_job(queue, job_id)
            except JobNotFound:
                out.append({"queue": queue, "job_id": job_id, "state": "not in Redis"})
                continue
            out.append(
                {
                    "queue": queue,
                    "job_id": job_id,
                    "state": view.state,
                    "reason": (view.failed_reason or "")[:200],
                }
            )
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)
