"""Enqueueing: validate the payload, add the job to BullMQ, apply the fallback policy.

Business arguments (the payload) are kept apart from enqueue options (:class:`EnqueueOptions`).
When Redis does not answer, the queue's fallback policy decides: ``inline`` runs the handler now,
in this process (the seed's behaviour), ``raise`` raises :class:`BrokerUnavailable`.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aredis
from bullmq import Queue
from pydantic import BaseModel, ConfigDict, Field

from ils.queue.backoff import backoff_option
from ils.queue.broker import Broker, is_connection_error, redact
from ils.queue.context import JobContext
from ils.queue.errors import BrokerUnavailable, IlsJobsError, InlineJobFailed
from ils.queue.executor import Executor, validate_payload
from ils.queue.registry import JobType, Payload, Registry
from ils.queue.settings import QueueSpec, Settings

log = logging.getLogger(__name__)


class EnqueueOptions(BaseModel):
    """How to enqueue, apart from what: priority, delay, attempts, dedup key, job id."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    priority: int | None = Field(None, ge=1, le=2_097_152, description="1 is the highest")
    delay_s: float | None = Field(None, ge=0)
    attempts: int | None = Field(None, ge=1, le=100)
    dedup_key: str | None = Field(None, min_length=1, max_length=200)
    dedup_ttl_s: float | None = Field(None, gt=0)
    job_id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[^:]+$")


@dataclass(frozen=True)
class Enqueued:
    """What became of an enqueue: ``queued`` in BullMQ, or run ``inline`` by the fallback."""

    queue: str
    name: str
    job_id: str
    mode: Literal["queued", "inline"]
    result: Any = None


def job_options(
    job_type: JobType, spec: QueueSpec, options: EnqueueOptions | None
) -> dict[str, Any]:
    """The BullMQ job options: the queue's defaults, then the job type's, then the caller's."""
    o = options or EnqueueOptions()
    opts: dict[str, Any] = {
        "attempts": o.attempts or job_type.attempts or spec.attempts,
        "backoff": backoff_option(spec.backoff, spec.backoff_delay_ms),
        "removeOnComplete": {"age": spec.keep_completed_age_s, "count": spec.keep_completed_count},
        "removeOnFail": {"age": spec.keep_failed_age_s, "count": spec.keep_failed_count},
    }
    priority = o.priority if o.priority is not None else job_type.priority
    if priority:
        opts["priority"] = priority
    if o.delay_s:
        opts["delay"] = int(o.delay_s * 1000)
    if o.job_id:
        opts["jobId"] = o.job_id
    if o.dedup_key:
        dedup: dict[str, Any] = {"id": o.dedup_key}
        if o.dedup_ttl_s:
            dedup["ttl"] = int(o.dedup_ttl_s * 1000)
        opts["deduplication"] = dedup
    return opts


class Producer:
    """Adds jobs of one registry's types to the queues of one broker."""

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        broker: Broker,
        resources: Mapping[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.broker = broker
        self.resources = dict(resources or {})
        self.executor = Executor(registry)
        self._client: aredis.Redis | None = None
        self._queues: dict[str, Queue] = {}

    def queue(self, name: str) -> Queue:
        self.settings.queue(name)  # a clear error for an unknown queue
        if name not in self._queues:
            if self._client is None:
                self._client = self.broker.client("producer")
            self._queues[name] = Queue(
                name, {"connection": self._client, "prefix": self.settings.prefix}
            )
        return self._queues[name]

    async def enqueue(
        self,
        queue: str,
        name: str,
        payload: Mapping[str, Any] | Payload,
        options: EnqueueOptions | None = None,
    ) -> Enqueued:
        """Validate and add one job. Raises :class:`InvalidJobPayload` (nothing enqueued),
        :class:`UnknownJobType`, or :class:`BrokerUnavailable` under the ``raise`` policy."""
        spec = self.settings.queue(queue)
        job_type = self.registry.get(queue, name)
        typed = validate_payload(job_type, payload)
        opts = job_options(job_type, spec, options)
        try:
            job = await self.queue(queue).add(name, typed.to_wire(), opts)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            return await self._fallback(job_type, spec, typed, opts, exc)
        return Enqueued(queue, name, str(job.id), "queued")

    async def _fallback(
        self,
        job_type: JobType,
        spec: QueueSpec,
        payload: Payload,
        opts: dict[str, Any],
        exc: BaseException,
    ) -> Enqueued:
        where = redact(self.broker.url)
        if spec.fallback == "raise":
            raise BrokerUnavailable(
                f"could not enqueue {job_type.key}: Redis at {where} unreachable ({exc})"
            ) from exc
        job_id = opts.get("jobId") or f"inline-{uuid.uuid4().hex}"
        log.warning("Redis at %s unreachable; running %s %s inline", where, job_type.key, job_id)
        ctx = JobContext(
            job_id=job_id,
            queue=job_type.queue,
            name=job_type.name,
            attempt=1,
            max_attempts=1,
            logger=logging.LoggerAdapter(log, {"job_id": job_id, "queue": job_type.queue}),
            inline=True,
            resources=self.resources,
        )
        try:
            result = await self.executor.execute(job_type.queue, job_type.name, payload, ctx)
        except IlsJobsError as err:
            raise InlineJobFailed(job_type.key, err) from err
        except Exception as err:
            raise InlineJobFailed(job_type.key, err) from err
        return Enqueued(job_type.queue, job_type.name, job_id, "inline", result)

    async def close(self) -> None:
        self._queues.clear()
        if self._client is not None:
            await self._client.aclose()
            self._client = None
