"""Cooperative cancellation of active jobs, across processes.

An admin's request is a field of one Redis hash (``<queue>:<job id>`` -> when). Every worker
process looks at that hash once a second (:class:`CancelWatcher`); the one running the job
aborts the job's signal, which the handler sees as ``ctx.cancelled`` (or ``ctx.check_cancelled()``
raising :class:`~ils.errors.JobCancelled`) at its next step; the job then ends ``cancelled``
(:mod:`ils.queue.processing`). A request whose job no worker holds expires after
:data:`REQUEST_TTL_S`. Jobs not running yet are not asked: :mod:`ils.queue.actions` removes them.

A poll, not pub/sub: a request made while a worker was reconnecting is still there when it
comes back, and a one-field hash read per second per process costs nothing.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

import redis.asyncio as aredis
from redis.exceptions import RedisError

from ils.queue import keys
from ils.queue.background import every

log = logging.getLogger(__name__)

REQUEST_TTL_S = 600


async def request_cancel(client: aredis.Redis, prefix: str, queue: str, job_id: str) -> None:
    """Ask whichever worker runs ``queue``/``job_id`` to stop it."""
    await client.hset(
        keys.cancel_requests(prefix), keys.cancel_field(queue, job_id), int(time.time() * 1000)
    )


class CancelWatcher:
    """Applies cancel requests to the jobs this process runs. ``cancel(queue, job_id)`` aborts
    the job's signal and says whether this process holds the job."""

    def __init__(
        self,
        client: aredis.Redis,
        prefix: str,
        queues: Mapping[str, object],
        cancel: Callable[[str, str], bool],
        interval_s: float = 1.0,
    ) -> None:
        self.client = client
        self.key = keys.cancel_requests(prefix)
        self.queues = queues
        self.cancel = cancel
        self.interval_s = interval_s
        self.signalled: set[str] = set()

    async def check(self) -> int:
        """Apply the pending requests once; returns how many jobs were signalled now."""
        pending = await self.client.hgetall(self.key)
        now_ms = int(time.time() * 1000)
        signalled = 0
        for raw_field, raw_at in pending.items():
            fieldname = str(raw_field)
            queue, job_id = keys.parse_cancel_field(fieldname)
            if fieldname in self.signalled or queue not in self.queues:
                continue
            if self.cancel(queue, job_id):
                self.signalled.add(fieldname)
                signalled += 1
                log.info("job %s of queue %s asked to cancel", job_id, queue)
            elif now_ms - int(raw_at) > REQUEST_TTL_S * 1000:
                await self.client.hdel(self.key, fieldname)
        return signalled

    async def finished(self, queue: str, job_id: str) -> None:
        """The job ended here: its request, if any, is done."""
        fieldname = keys.cancel_field(queue, job_id)
        if fieldname in self.signalled:
            self.signalled.discard(fieldname)
            try:
                await self.client.hdel(self.key, fieldname)
            except RedisError as exc:
                log.debug("cancel request %s left to expire: %s", fieldname, exc)

    async def run(self) -> None:
        await every(self.interval_s, self.check, log, "cancel requests not read")
