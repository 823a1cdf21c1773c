"""The dead-letter sweep: records the jobs that failed for good without a worker of ours
recording them — failed by BullMQ's stall limit (their workers died more often than
``max_stalled_count``), by a Node worker, or while the database did not answer — from each
queue's failed set.

Every web and worker process runs it (``ils.bootstrap.JobSystem.start_background``), every
:data:`SWEEP_INTERVAL_S`: it reads the failed set's entries newer than the queue's mark in Redis
(``<prefix>:ils:dlq-swept:<queue>``, the failure time it reached, ms), skips those recorded
already, records the rest (:meth:`ils.queue.dead_letters.DeadLetters.record`, idempotent: two
processes sweeping at once keep one row), then moves the mark. It leaves the last
:data:`GRACE_MS` to the worker that is recording them, and on its first run in a deployment it
starts from now: failures from before dead letters existed are not turned into notifications.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, cast

from bullmq import Job

from ils.queue import keys
from ils.queue.background import BackgroundTask, every
from ils.queue.broker import Broker
from ils.queue.processing import Failure, failure_of
from ils.queue.undecodable import job_from_id

if TYPE_CHECKING:
    from ils.queue.dead_letters import DeadLetters

log = logging.getLogger("ils.queue.dead_letters")

SWEEP_INTERVAL_S = 15.0
GRACE_MS = 5_000
BATCH = 500


def failure_from_job(queue: str, job: Job, failed_at_ms: int) -> Failure:
    """A failed job's dead-letter record, from what BullMQ kept of it."""
    stack = "\n".join(str(s) for s in (job.stacktrace or []))
    reason = str(job.failedReason or "failed")
    failed_at = int(job.finishedOn or failed_at_ms)
    return failure_of(queue, job, reason, stack, int(job.attemptsMade or 0), failed_at)


class DeadLetterSweep:
    """Sweeps ``queues``' failed sets into the store ``store()`` gives (asked for only when a
    sweep finds failed jobs: until then no database code is loaded)."""

    def __init__(
        self,
        store: Callable[[], DeadLetters],
        broker: Broker,
        queues: Sequence[str],
        interval_s: float = SWEEP_INTERVAL_S,
        grace_ms: int = GRACE_MS,
    ) -> None:
        self.store = store
        self.broker = broker
        self.queues = tuple(queues)
        self.interval_s = interval_s
        self.grace_ms = grace_ms
        self.task = BackgroundTask("ils-dead-letter-sweep", self._run)

    async def sweep(self) -> int:
        """Sweep every queue once; how many dead letters this call recorded."""
        return sum([await self.sweep_queue(q) for q in self.queues])

    async def sweep_queue(self, name: str) -> int:
        client = self.broker.admin_client_for(name)  # the queue's server keeps its mark too
        mark_key = keys.dead_letter_sweep(self.broker.settings.prefix, name)
        upto = int(time.time() * 1000) - self.grace_ms
        mark = await client.get(mark_key)
        if mark is None:  # the first sweep of this deployment: from now on
            await client.set(mark_key, upto, nx=True)
            return 0
        queue = self.broker.queues.get(name)
        found = await client.zrangebyscore(
            keys.failed_set(queue), int(mark), upto, start=0, num=BATCH, withscores=True
        )
        if not found:
            await client.set(mark_key, upto)
            return 0
        pairs = cast(list[tuple[str, float]], found)  # withscores: (member, score) pairs
        scores = {str(job_id): int(score) for job_id, score in pairs}
        recorded = 0
        for job_id in sorted(set(scores) - await self.store().recorded(name, list(scores))):
            job = await job_from_id(queue, job_id)
            if job is None:  # removed since (retention, an admin): nothing to keep
                continue
            await self.store().record(failure_from_job(name, job, scores[job_id]))
            log.warning("job %s %s/%s failed without being recorded: recorded as a dead letter",
                        job_id, name, job.name)  # fmt: skip
            recorded += 1
        # A full batch moves the mark to its last failure only (read again next time, found
        # recorded); a partial one covered everything up to ``upto``.
        await client.set(mark_key, max(scores.values()) if len(found) == BATCH else upto)
        return recorded

    async def _step(self) -> None:
        try:
            await self.sweep()
        except Exception as exc:  # the database or Redis away: the next round tries again
            log.warning("dead-letter sweep: %s", exc)

    async def _run(self) -> None:
        await every(self.interval_s, self._step, log, "dead-letter sweep")

    def start(self) -> None:
        self.task.start()

    async def stop(self) -> None:
        await self.task.stop()
