"""Enqueueing: validate the payload, then write it to the outbox or add it to BullMQ, and apply
the fallback policy.

Business arguments (the payload) are kept apart from enqueue options (:class:`EnqueueOptions`).
With the caller's database session the job is written to the outbox in the caller's transaction
and relayed to BullMQ once that commits (:mod:`ils.queue.relay`); without one it is added to
BullMQ directly. When Redis does not answer, the queue's fallback policy decides: ``spool`` writes
the job to the outbox for the relay to deliver later, ``inline`` runs the handler now, in this
process (the seed's behaviour), ``raise`` raises :class:`BrokerUnavailable`. A flow (built by
:mod:`ils.queue.flows`) goes the same ways, except inline: its jobs wait for each other.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from bullmq import Queue
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ils.errors import BrokerUnavailable, ConfigurationError, IlsJobsError, InlineJobFailed
from ils.logs import job_log_context
from ils.queue import producer_bulk
from ils.queue.backoff import backoff_option
from ils.queue.broker import Broker, is_connection_error, redact
from ils.queue.context import JobContext, NoResources, ResourceProvider
from ils.queue.engine_add import json_data
from ils.queue.executor import Executor, validate_payload
from ils.queue.flow_store import FlowJob, add_tree, flow_row
from ils.queue.outbox_row import OUTBOX_ID_MAX, OutboxRow, describe_error, statement_error
from ils.queue.payload_size import check_encoded_size, check_tree_size
from ils.queue.registry import JobType, Payload, Registry
from ils.queue.settings import QueueSpec, Settings
from ils.queue.tenancy import COMPANY_FIELD, new_job_id

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.queue.relay import OutboxRelay

log = logging.getLogger(__name__)


class EnqueueOptions(BaseModel):
    """How to enqueue, apart from what: priority, delay, attempts, dedup key, job id.

    ``dedup_key`` is BullMQ's deduplication id (per queue): while a job added with it is kept in
    Redis — or, with ``dedup_ttl_s``, for that window from its add — adding another job with the
    same key adds nothing and answers the first job's id. Through the outbox the key travels with
    the row, so two transactions enqueueing the same key within the window make one job.

    ``shared_id`` (with ``job_id``, through a session's outbox): a job id that names a window
    (every transaction of it asks for the same job); a transaction that finds that id in the
    outbox already joins that row's job and hands nothing to BullMQ again. Without it, each
    commit hands its job over (BullMQ adds a job once per id; a job it no longer keeps comes back).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    priority: int | None = Field(None, ge=1, le=2_097_152, description="1 is the highest")
    delay_s: float | None = Field(None, ge=0)
    attempts: int | None = Field(None, ge=1, le=100)
    dedup_key: str | None = Field(None, min_length=1, max_length=200)
    dedup_ttl_s: float | None = Field(None, gt=0)
    # At most the outbox id's width: a job id must work with a session and when spooled too.
    job_id: str | None = Field(None, min_length=1, max_length=OUTBOX_ID_MAX)
    shared_id: bool = False

    @model_validator(mode="after")
    def _window_needs_a_key(self) -> EnqueueOptions:
        if self.dedup_ttl_s is not None and self.dedup_key is None:
            raise ValueError("dedup_ttl_s is the window of a dedup_key: give dedup_key too")
        if self.shared_id and self.job_id is None:
            raise ValueError("shared_id is about the given job id: give job_id too")
        return self

    @field_validator("job_id")
    @classmethod
    def _safe_job_id(cls, value: str | None) -> str | None:
        # Job ids name files (.eml, PDFs) and Redis keys: no key separator, no path out of a
        # directory.
        if value is None:
            return value
        if ":" in value:
            raise ValueError("must not contain ':' (BullMQ's key separator)")
        if "/" in value or "\\" in value or ".." in value:
            raise ValueError("must not contain '/', '\\' or '..' (it names files)")
        return value


DEFAULT_OPTIONS = EnqueueOptions()


@dataclass(frozen=True)
class Enqueued:
    """What became of an enqueue: ``queued`` in BullMQ; written to the ``outbox`` in the caller's
    transaction (relayed after commit); ``spooled`` to the outbox by the fallback (relayed when
    Redis returns); or run ``inline`` by the fallback. ``job_id`` is the BullMQ job id."""

    queue: str
    name: str
    job_id: str
    mode: Literal["queued", "outbox", "spooled", "inline"]
    result: Any = None


def job_options(
    job_type: JobType, spec: QueueSpec, options: EnqueueOptions | None
) -> dict[str, Any]:
    """The BullMQ job options: the queue's defaults, then the job type's, then the caller's."""
    o = options or DEFAULT_OPTIONS
    opts: dict[str, Any] = {
        "attempts": o.attempts or job_type.attempts or spec.attempts,
        "backoff": backoff_option(
            spec.backoff,
            spec.backoff_delay_ms
            if job_type.backoff_delay_ms is None
            else job_type.backoff_delay_ms,
        ),
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


@functools.lru_cache(maxsize=256)
def _has_company_id(model: type[Payload]) -> bool:
    return "company_id" in model.model_fields or hasattr(model, "company_id")


def owner(payload: Payload, company_id: int | None) -> int | None:
    """The company a job belongs to: the caller's choice, else the payload's ``company_id``."""
    if company_id is not None:
        return company_id
    # Asked only of models that have it: a missing attribute costs pydantic an exception.
    if not _has_company_id(type(payload)):
        return None
    own = getattr(payload, "company_id", None)
    return own if isinstance(own, int) and not isinstance(own, bool) else None


class Producer:
    """Adds jobs of one registry's types to the queues of one broker.

    ``relay`` (with its outbox) takes jobs enqueued with a database session, and those the
    ``spool`` fallback keeps; without it, a queue whose policy is ``spool`` is a configuration
    error, raised here, at start-up.
    """

    def __init__(
        self,
        settings: Settings,
        registry: Registry,
        broker: Broker,
        resources: ResourceProvider | None = None,
        relay: OutboxRelay | None = None,
    ) -> None:
        spooling = [q for q, spec in settings.queues.items() if spec.fallback == "spool"]
        if spooling and relay is None:
            envs = ", ".join(f"ILS_QUEUE_{q.upper()}_FALLBACK" for q in spooling)
            raise ConfigurationError(
                f"queues {', '.join(spooling)} fall back to 'spool' when Redis is down, which "
                f"needs the outbox, but no database is configured for it: give the producer an "
                f"outbox relay (ils.bootstrap.JobSystem does), or set {envs} to inline or raise"
            )
        self.settings = settings
        self.registry = registry
        self.broker = broker
        self.resources: ResourceProvider = resources or NoResources()
        self.relay = relay
        self.executor = Executor(registry)
        self._default_options: dict[str, tuple[JobType, QueueSpec, dict[str, Any]]] = {}

    def queue(self, name: str) -> Queue:
        """The broker's queue ``name`` (:class:`ConfigurationError` for an unknown one)."""
        return self.broker.queues.get(name)

    async def enqueue(
        self,
        queue: str,
        name: str,
        payload: Mapping[str, Any] | Payload,
        options: EnqueueOptions | None = None,
        session: AsyncSession | None = None,
        company_id: int | None = None,
    ) -> Enqueued:
        """Validate and enqueue one job, as ``company_id``'s (by default the payload's own
        ``company_id``; with neither it is system work, visible to the platform operator only).

        With ``session`` (the caller's, in its transaction) the job is written to the outbox in
        that transaction, without a Redis call, and reaches BullMQ once it commits; a rollback
        enqueues nothing. Without, it is added to BullMQ now. Raises :class:`InvalidJobPayload`
        (nothing enqueued; :class:`PayloadTooLarge` for data over ``max_payload_bytes``),
        :class:`UnknownJobType`, or :class:`BrokerUnavailable` under the
        ``raise`` policy.
        """
        spec = self.settings.queue(queue)
        job_type = self.registry.get(queue, name)
        typed = validate_payload(job_type, payload)
        opts = self.options_of(job_type, spec, options)
        wire = typed.to_wire()  # a new dict: stamped in place
        company = owner(typed, company_id)
        if company is not None:
            wire[COMPANY_FIELD] = company
        encoded = json_data(wire)  # once: sent as is, and measured for the size check
        check_encoded_size(job_type.key, wire, encoded, self.settings.max_payload_bytes)
        if session is not None:
            relay = self.relay_for(f"enqueueing {job_type.key} with a session")
            row = OutboxRow.new(queue, name, wire, opts)
            await relay.write(session, row, shared_id=options is not None and options.shared_id)
            return Enqueued(queue, name, row.id, "outbox")
        # A company's index entry is written by id: one is given here when the options have
        # none (packed alone; the job type's options stay shared, prepared once).
        given = new_job_id() if company is not None and not opts.get("jobId") else None
        adder = self.broker.queues.adder(queue)
        try:
            job_id = await adder.add(name, encoded, opts, company, given)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            if given is not None:
                opts = {**opts, "jobId": given}
            if spec.fallback == "spool":
                row = OutboxRow.new(queue, name, wire, opts)
                return await self._spool(row, job_type.key, exc)
            return await self.fallback(job_type, spec, typed, opts, exc, company)
        return Enqueued(queue, name, job_id, "queued")

    def options_of(
        self, job_type: JobType, spec: QueueSpec, options: EnqueueOptions | None
    ) -> dict[str, Any]:
        """:func:`job_options`, kept per job type for the common call without options (the
        dict is shared: callers copy it before changing it)."""
        if options is not None:
            return job_options(job_type, spec, options)
        cached = self._default_options.get(job_type.key)
        if cached is None or cached[0] is not job_type or cached[1] is not spec:
            cached = (job_type, spec, job_options(job_type, spec, None))
            self._default_options[job_type.key] = cached
        return cached[2]

    # Validate and enqueue many jobs of one type: one outbox statement, or pipelined adds.
    enqueue_many = producer_bulk.enqueue_many

    async def enqueue_flow(self, tree: FlowJob, session: AsyncSession | None = None) -> Enqueued:
        """Add a flow (BullMQ's ``FlowJob`` shape, built by :mod:`ils.queue.flows`: payloads
        validated, job ids fixed, companies stamped): with ``session`` as one outbox row in its
        transaction, else to BullMQ now. When Redis does not answer, the root queue's ``spool``
        policy keeps it in the outbox; any other policy raises :class:`BrokerUnavailable` (a
        flow's jobs wait for each other: none runs inline). ``job_id`` is the root's."""
        queue, name = str(tree["queueName"]), str(tree["name"])
        what = f"flow {queue}/{name}"
        check_tree_size(tree, self.settings.max_payload_bytes)
        if session is not None:
            row = flow_row(tree)
            await self.relay_for(f"enqueueing the {what} with a session").write(session, row)
            return Enqueued(queue, name, row.id, "outbox")
        try:
            job_id = await add_tree(self.broker, tree)
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            if self.settings.queue(queue).fallback == "spool":
                return await self._spool(flow_row(tree), what, exc)
            where = redact(self.broker.url_for(queue))
            raise BrokerUnavailable(
                f"could not enqueue the {what}: Redis at {where} unreachable "
                f"({exc}); a flow is never run inline"
            ) from exc
        return Enqueued(queue, name, job_id, "queued")

    def batch(self, session: AsyncSession) -> contextlib.AbstractAsyncContextManager[None]:
        """Enqueue several jobs with ``session`` and write them to the outbox in one statement
        at the end of the block (see :meth:`OutboxRelay.batch`)."""
        return self.relay_for("batching enqueues").batch(session)

    def relay_for(self, what: str) -> OutboxRelay:
        """The outbox relay, or :class:`ConfigurationError` saying ``what`` needs it."""
        if self.relay is None:
            raise ConfigurationError(f"{what} needs the outbox, and this producer has none")
        return self.relay

    async def _spool(self, row: OutboxRow, what: str, exc: BaseException) -> Enqueued:
        """The ``spool`` fallback: keep the job (or flow) in the outbox; the relay's sweep adds
        it to BullMQ when Redis answers again."""
        await self.spool_rows([row], what, exc)
        return Enqueued(row.queue, row.name, row.id, "spooled")

    async def spool_rows(self, rows: Sequence[OutboxRow], what: str, exc: BaseException) -> None:
        """Write ``rows`` (of one queue) to the outbox in one transaction, because Redis failed
        with ``exc`` (:class:`BrokerUnavailable` if the database fails too)."""
        relay = self.relay_for(f"spooling {what}")
        where = redact(self.broker.url_for(rows[0].queue)) if rows else ""
        try:
            await relay.outbox.spool_many(rows)
        except Exception as err:
            # Chained to the driver's error, not SQLAlchemy's: that one quotes the payload.
            failed = statement_error(err)
            cause = failed.orig if failed is not None and failed.orig else err
            raise BrokerUnavailable(
                f"could not enqueue {what}: Redis at {where} unreachable ({exc}), "
                f"and spooling it to the outbox failed ({describe_error(err)})"
            ) from cause
        ids = rows[0].id if len(rows) == 1 else f"({len(rows)} jobs)"
        log.warning("Redis at %s unreachable; spooled %s %s to the outbox", where, what, ids)

    async def fallback(
        self,
        job_type: JobType,
        spec: QueueSpec,
        payload: Payload,
        opts: dict[str, Any],
        exc: BaseException,
        company_id: int | None = None,
    ) -> Enqueued:
        where = redact(self.broker.url_for(job_type.queue))
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
            resources=self.resources.scoped(job_type.resources),
        )
        try:
            with job_log_context(job_id, job_type.queue, job_type.name, company_id):
                result = await self.executor.execute(job_type.queue, job_type.name, payload, ctx)
        except IlsJobsError as err:
            raise InlineJobFailed(job_type.key, err) from err
        except Exception as err:
            raise InlineJobFailed(job_type.key, err) from err
        return Enqueued(job_type.queue, job_type.name, job_id, "inline", result)


# A producer bound to a database's sessions: the session of a caller that has one (a domain
# service inside its transaction) names the producer its jobs go through, so nothing needs a
# global.
_PRODUCER_INFO = "ils.queue.producer"


def bind_producer(session_info: MutableMapping[str, Any], producer: Producer) -> None:
    """Make the sessions that start with ``session_info`` in their ``info`` (those of a
    :class:`~ils.domain.db.Database`, made now or later) enqueue through ``producer``."""
    session_info[_PRODUCER_INFO] = producer


def unbind_producer(session_info: MutableMapping[str, Any], producer: Producer) -> None:
    """Forget ``producer`` if ``session_info`` names it (a closing process calls this)."""
    if session_info.get(_PRODUCER_INFO) is producer:
        del session_info[_PRODUCER_INFO]


def producer_for(producer: Producer | None, session: AsyncSession | None) -> Producer:
    """``producer``, else the one ``session``'s sessionmaker was bound to."""
    if producer is not None:
        return producer
    bound = session.info.get(_PRODUCER_INFO) if session is not None else None
    if isinstance(bound, Producer):
        return bound
    raise ConfigurationError(
        "no producer to enqueue with: pass producer=..., or a session of a database the job "
        "system was started with (ils.bootstrap.JobSystem binds its producer to its sessions)"
    )


def batch(
    session: AsyncSession, *, producer: Producer | None = None
) -> contextlib.AbstractAsyncContextManager[None]:
    """Inside ``async with batch(session):`` the jobs enqueued with that ``session`` are written
    to the outbox together, in one statement, when the block ends."""
    return producer_for(producer, session).batch(session)
