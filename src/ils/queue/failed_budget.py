"""The byte budget of a queue's failed jobs: BullMQ bounds its failed set by count and age only,
so a few huge failed payloads could hold Redis memory for days (issue 16, defect 6: twelve 5 MB
payloads kept 73 MB for 7 days). Past ``keep_failed_bytes`` the oldest failed jobs are removed.

Their size is what they keep in Redis that grows with the job: data, options, failure reason,
stack trace and return value (``HSTRLEN`` of each). Jobs that fail for good are dead letters in
the database already (:mod:`ils.queue.dead_letters`), so trimming BullMQ's copy loses nothing an
admin replays from. The runtime trims a queue when one of its jobs has failed for good.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from redis.exceptions import RedisError

from ils.queue import keys
from ils.queue.settings import QueueSpec

if TYPE_CHECKING:
    import redis.asyncio as aredis
    from bullmq import Queue

log = logging.getLogger("ils.worker")

#: The job hash fields whose size a failed job's share of the budget counts.
SIZED_FIELDS = ("data", "opts", "failedReason", "stacktrace", "returnvalue")
#: Failed jobs read per round trip, newest first.
PAGE = 500
#: The least time between two trims of a queue: under a storm of failures a trim (which reads
#: the sizes of the failed set's newest jobs) runs at most this often.
MIN_GAP_S = 5.0


class FailedBudget:
    """Keeps one queue's failed jobs within ``spec.keep_failed_bytes``."""

    def __init__(
        self, name: str, spec: QueueSpec, queue: Callable[[], Queue], client: aredis.Redis
    ) -> None:
        self.name = name
        self.spec = spec
        self._queue = queue
        self.client = client
        self._poked = asyncio.Event()

    async def _sizes(self, q: Queue, ids: list[str]) -> list[int]:
        async with self.client.pipeline(transaction=False) as pipe:
            for job_id in ids:
                for name in SIZED_FIELDS:
                    pipe.hstrlen(keys.job_hash(q, job_id), name)
            lengths = await pipe.execute()
        n = len(SIZED_FIELDS)
        return [sum(int(x) for x in lengths[i * n : (i + 1) * n]) for i in range(len(ids))]

    async def _first_over(self, q: Queue) -> int | None:
        """The rank (0: newest) of the failed job whose bytes, added to the newer ones', exceed
        the budget; None while all fit."""
        budget = self.spec.keep_failed_bytes
        assert budget is not None
        total, rank = 0, 0
        while True:
            ids = [str(j) for j in await self.client.zrevrange(keys.failed_set(q), rank,
                                                                 rank + PAGE - 1)]  # fmt: skip
            if not ids:
                return None
            for i, size in enumerate(await self._sizes(q, ids)):
                total += size
                if total > budget:
                    return rank + i
            rank += len(ids)

    async def trim(self) -> int:
        """Remove the oldest failed jobs past the budget; how many were removed."""
        if self.spec.keep_failed_bytes is None:
            return 0
        q = self._queue()
        cut = await self._first_over(q)
        if cut is None:
            return 0
        victims = [str(j) for j in await self.client.zrevrange(keys.failed_set(q), cut, -1)]
        removed = 0
        for job_id in victims:
            removed += 1 if await q.backend.remove(job_id, True) else 0
        log.info(
            "queue %s: removed the %d oldest failed jobs past its budget of %d bytes "
            "(their dead letters stay)",
            self.name, removed, self.spec.keep_failed_bytes,
        )  # fmt: skip
        return removed

    def poke(self) -> None:
        """Ask for a trim (a job of the queue has just failed for good)."""
        self._poked.set()

    async def run(self) -> None:
        """Trim now, then each time :meth:`poke` asks, until cancelled."""
        while True:
            self._poked.clear()
            try:
                await self.trim()
            except RedisError as exc:
                log.debug("failed jobs of %s not trimmed: %s", self.name, exc)
            await asyncio.sleep(MIN_GAP_S)
            await self._poked.wait()
