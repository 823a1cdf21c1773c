"""The BullMQ ``Worker`` the runtime runs, and its options: BullMQ's own, with two steps taken
over, its lock tokens named, its server's capabilities read, its idle slots kept from fetching
and each completion taking the slot's next job.

- the stalled-job check is left to :class:`ils.queue.stalls.StallSweeper` (BullMQ's timer would
  first run it a whole interval after start, and hold the shared check key an interval at a time);
- a job whose stored fields are not JSON, or whose data is over the size cap, is made readable
  before BullMQ decodes it (:mod:`ils.queue.undecodable`), so it reaches the executor and fails
  once instead of looping;
- its lock tokens start with the worker's name (host and pid), so a job's lock names the process
  that holds it;
- before it first blocks, it asks the server's version on the connection it blocks on: the
  Python engine reads the version (which says whether ``BZPOPMIN`` takes a fractional timeout)
  on its main connection only, so its worker rounded every wait up to whole seconds and a delayed
  job ran up to a second after its time;
- on an idle queue its idle slots do not each run the fetch script for every job that arrives
  (see :meth:`IlsWorker.getNextJob`);
- a job's completion, or its final failure, takes the slot's next job in the same script
  (``moveToFinished`` with ``fetchNext``, as Node BullMQ's worker does; see
  :meth:`IlsWorker.processJob`): the Python engine ran the fetch script again after every job,
  one script and one round trip more a job.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from bullmq import Worker
from redis.exceptions import RedisError

from ils.queue import keys
from ils.queue.backoff import bullmq_strategy
from ils.queue.settings import QueueSpec, Settings
from ils.queue.undecodable import data_bytes_over, readable

log = logging.getLogger("ils.worker")

# How soon BullMQ retries its loop after a connection error (its default, 15 s, would keep a
# worker idle long after Redis returns).
RUN_RETRY_DELAY_MS = 1_000


def worker_options(
    settings: Settings, spec: QueueSpec, connection: Any, name: str, prefix: str | None = None
) -> dict[str, Any]:
    """BullMQ ``Worker`` options for one queue, from its spec (snake_case in, camelCase out);
    ``prefix`` the queue's key prefix (:meth:`Settings.queue_prefix`; None: ``settings.prefix``)."""
    opts: dict[str, Any] = {
        "connection": connection,
        "prefix": prefix or settings.prefix,
        "name": name,
        "autorun": False,
        "concurrency": spec.concurrency,
        "lockDuration": spec.lock_duration_ms,
        "stalledInterval": spec.stalled_interval_ms,
        "maxStalledCount": spec.max_stalled_count,
        "drainDelay": spec.effective_drain_delay_s,
        "runRetryDelay": RUN_RETRY_DELAY_MS,
        "removeOnComplete": {"age": spec.keep_completed_age_s, "count": spec.keep_completed_count},
        "removeOnFail": {"age": spec.keep_failed_age_s, "count": spec.keep_failed_count},
        "settings": {"backoffStrategy": bullmq_strategy()},
    }
    if spec.rate_max is not None:
        opts["limiter"] = {"max": spec.rate_max, "duration": spec.rate_duration_ms}
    return opts


class IlsWorker(Worker):  # type: ignore[misc]
    """BullMQ's worker with the changes of this module's docstring; jobs whose data is over
    ``max_payload_bytes`` are quarantined like undecodable ones."""

    def __init__(self, *args: Any, max_payload_bytes: int | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_payload_bytes = max_payload_bytes
        # The engine's lock tokens are ``<id>:<n>`` (the Python engine does not record the
        # taking worker in the job's hash as the Node one does).
        if self.workerName:
            self.id = self.lockManager.worker_id = f"{self.workerName}:{uuid.uuid4().hex}"
        self._woken = False  # the last job came to a drained queue (see getNextJob)
        self._probe: asyncio.Future[bool] | None = None
        # The next job each completion took, by the slot's lock token (see processJob).
        self._fetched: dict[str, list[Any]] = {}
        # The engine's worker completes or fails every job through its backend, asking no next
        # job: both moves ask for one here.
        self.backend.moveToCompleted = self._fetching(self.backend.moveToCompleted)
        self.backend.moveToFailed = self._fetching(self.backend.moveToFailed)

    async def runStalledJobsCheck(self) -> None:  # noqa: N802 (BullMQ's name)
        return None

    def _fetching(self, move: Any) -> Any:
        """``move`` (the backend's ``moveToCompleted`` or ``moveToFailed``: the job, its value,
        its retention, the token, then ``fetch_next``) asking for the slot's next job unless the
        worker pauses or closes; the job it took is kept for :meth:`processJob`."""

        async def moving(job: Any, value: Any, remove: Any, token: str, fetch_next: bool = False,
                         *rest: Any, **named: Any) -> Any:  # fmt: skip
            fetch = not (self.closing or self.paused or self.forceClosing)  # not fetch_next's
            moved = await move(job, value, remove, token, fetch, *rest, **named)
            if fetch and moved.get("result") is not None:
                self._fetched[token] = moved["result"]
            return moved

        return moving

    async def processJob(self, job: Any, token: str) -> Any:  # noqa: N802 (BullMQ's name)
        # The engine's processJob, then the job its completion or final failure took (locked
        # with the same token, as Node BullMQ's worker does): returned to the run loop, which
        # processes a finished task's job in the same slot. No job there: the queue is drained,
        # as a fetch that found nothing says, and the slot fetches (or blocks) again.
        await super().processJob(job, token)
        fetched = self._fetched.pop(token, None)
        if fetched is None:
            return None
        data, job_id, limit_until, delay_until = fetched
        next_job = await self.nextJobFromJobData(
            data, job_id, int(limit_until or 0), int(delay_until or 0), token
        )
        if next_job is not None:
            self.emit("active", next_job, "waiting")
        return next_job

    async def getNextJob(self, token: str) -> Any:  # noqa: N802 (BullMQ's name)
        # On an idle queue the engine's idle slots each ran the fetch script for every job that
        # arrived, and found nothing: about three scripts a slot a job (149 a job at concurrency
        # 50). Here, while one slot blocks on the queue's marker, the others fetch nothing (it
        # takes what arrives); once it has taken a job, one slot probes for a second while the
        # others await that probe, and fetch only if it found one (a burst: the queue has more).
        if self.waiting is not None:
            return None
        if self._probe is not None:
            if not await asyncio.shield(self._probe):
                return None
            return await super().getNextJob(token)
        if self._woken and not self.drained:
            return await self._probing(token)
        was_drained = self.drained
        job = await super().getNextJob(token)
        self._woken = was_drained and job is not None
        return job

    async def _probing(self, token: str) -> Any:
        """The one fetch after a wake; the other slots await whether it found a job."""
        probe: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        self._probe, self._woken = probe, False
        job = None
        try:
            job = await super().getNextJob(token)
        finally:
            probe.set_result(job is not None)
            self._probe = None
        return job

    async def waitForJob(self) -> Any:  # noqa: N802 (BullMQ's name)
        # Until the blocking connection knows its server's version, the engine assumes a server
        # without fractional timeouts (before Redis 6) and waits ceil(seconds) for a delayed job.
        # Asked once it answers (an error here is the wait's own, met again just below).
        connection = self.blockingRedisConnection
        if connection is not None and connection.version is None:
            with contextlib.suppress(RedisError):
                await connection.getRedisVersion()
        return await super().waitForJob()

    async def nextJobFromJobData(  # noqa: N802 (BullMQ's name)
        self,
        job_data: dict[str, Any] | None = None,
        job_id: str | None = None,
        limit_until: int = 0,
        delay_until: int = 0,
        token: str | None = None,
    ) -> Any:
        # The common case costs no decoding of ours: BullMQ decodes the fields itself (its
        # first step that can fail, before any other effect), and only a job it cannot decode
        # is looked at, made readable and handed to it again. Oversized data is valid JSON: it
        # is measured first (without encoding, when its length alone says it is small).
        take = super().nextJobFromJobData
        if not job_data or job_id is None:
            return await take(job_data, job_id, limit_until, delay_until, token)
        if data_bytes_over(job_data.get("data"), self.max_payload_bytes) is None:
            try:
                return await take(job_data, job_id, limit_until, delay_until, token)
            except (ValueError, TypeError):
                if not readable(job_data, self.max_payload_bytes)[1]:
                    raise
        job_data = await self._quarantine(job_data, job_id)
        return await take(job_data, job_id, limit_until, delay_until, token)

    async def _quarantine(self, job_data: dict[str, Any], job_id: Any) -> dict[str, Any]:
        """``job_data`` made readable, its replaced fields written back to the job's hash."""
        job_data, fixed = readable(job_data, self.max_payload_bytes)
        jid = job_id.decode() if isinstance(job_id, bytes) else str(job_id)
        log.warning(
            "job %s on %s has fields it cannot run (%s); quarantined",
            jid, self.name, ", ".join(fixed), extra={"job_id": jid, "queue": self.name},
        )  # fmt: skip
        await self.client.hset(keys.job_hash(self, jid), mapping=fixed)
        return job_data
