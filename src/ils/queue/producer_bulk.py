"""Enqueueing many jobs of one type at once (:meth:`Producer.enqueue_many`): every payload
validated first (one bad payload enqueues nothing), then one outbox statement in the caller's
transaction, or pipelined adds of the engine's add script, one round trip per chunk.

Every job's id is fixed before anything is written (the caller's ``job_id``, else a new one), as
the outbox does for its rows: a chunk whose answer was lost, spooled and relayed again, or a bulk
sent again, adds each job once. When Redis stops answering mid-bulk, the chunks it confirmed are
``queued`` and the queue's fallback policy applies to the rest as one: ``spool`` writes them to
the outbox in one transaction, ``inline`` runs them here one after the other, ``raise`` raises
:class:`BrokerUnavailable` saying how many were added.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ils.errors import BrokerUnavailable, InvalidJobPayload
from ils.queue.add_stream import add_in_order
from ils.queue.broker import redact
from ils.queue.engine_add import bulk_job, json_data
from ils.queue.executor import validate_payload
from ils.queue.outbox_row import OutboxRow, utcnow
from ils.queue.payload_size import check_encoded_size
from ils.queue.registry import JobType, Payload
from ils.queue.tenancy import COMPANY_FIELD

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.queue.producer import Enqueued, EnqueueOptions, Producer

#: Jobs per pipeline: large enough to hide round trips, small enough that Redis runs one chunk
#: while the next is built (and to bound what a dropped connection leaves unconfirmed).
CHUNK = 250
#: Chunks sent before the first one's answers are read (on one connection, in order).
IN_FLIGHT = 3
#: The fewest jobs a chunk is cut to so that a small bulk fills the chunks in flight.
MIN_CHUNK = 50


@dataclass(slots=True)
class Item:
    """One validated job of a bulk: its id (fixed), data (as a dict and as sent), options (as
    shared by the bulk's jobs), typed payload, company, and when it was validated."""

    id: str
    wire: dict[str, Any]
    encoded: str
    shared: dict[str, Any]
    typed: Payload
    company_id: int | None
    created_at: dt.datetime

    @property
    def options(self) -> dict[str, Any]:
        """The job's own options: the shared ones with its id (for the outbox and fallbacks; a
        direct add packs the id alone: :meth:`~ils.queue.engine_add.EngineAdder.prepare_with_id`).
        """
        return {**self.shared, "jobId": self.id}

    def row(self, queue: str, name: str) -> OutboxRow:
        """The job as an outbox row (made only for the outbox: a direct add needs none)."""
        return OutboxRow(self.id, queue, name, self.wire, self.options, self.created_at,
                         company_id=self.company_id)  # fmt: skip


def options_list(options: Any, count: int, key: str) -> list[Any]:
    """``options`` as one entry per job (a sequence must have one per payload)."""
    if options is None or not isinstance(options, Sequence):
        return [options] * count
    if len(options) != count:
        raise InvalidJobPayload(key, [{
            "field": "(options)",
            "message": f"{len(options)} options for {count} payloads: give one per payload",
        }])  # fmt: skip
    return list(options)


def named_at(exc: InvalidJobPayload, key: str, index: int) -> InvalidJobPayload:
    """``exc`` with its fields named after the payload's index."""
    return InvalidJobPayload(key, [{**e, "field": f"[{index}].{e['field']}"} for e in exc.errors])


def validate_all(
    job_type: JobType, payloads: Sequence[Mapping[str, Any] | Payload]
) -> list[Payload]:
    """Every payload, typed, or :class:`InvalidJobPayload` naming the first bad one's index."""
    typed: list[Payload] = []
    for index, payload in enumerate(payloads):
        try:
            typed.append(validate_payload(job_type, payload))
        except InvalidJobPayload as exc:
            raise named_at(exc, job_type.key, index) from exc
    return typed


def validated(
    producer: Producer,
    job_type: JobType,
    payloads: Sequence[Mapping[str, Any] | Payload],
    options: Any,
    company_id: int | None,
) -> list[Item]:
    """Every payload validated, stamped, measured and given its row, or
    :class:`InvalidJobPayload` naming the first bad one's index and fields."""
    from ils.queue.producer import owner

    spec = producer.settings.queue(job_type.queue)
    limit = producer.settings.max_payload_bytes
    per_job = options_list(options, len(payloads), job_type.key)
    items: list[Item] = []
    now = utcnow()
    try:  # one handler for the whole loop: a context per payload costs a tenth of a bulk add
        for payload, chosen in zip(payloads, per_job, strict=True):
            typed = validate_payload(job_type, payload)
            wire = typed.to_wire()
            company = owner(typed, company_id)
            if company is not None:
                wire[COMPANY_FIELD] = company
            encoded = json_data(wire)
            check_encoded_size(job_type.key, wire, encoded, limit)
            opts = producer.options_of(job_type, spec, chosen)
            job_id = str(opts.get("jobId") or "") or os.urandom(16).hex()  # as uuid4().hex
            items.append(Item(job_id, wire, encoded, opts, typed, company, now))
    except InvalidJobPayload as exc:
        raise named_at(exc, job_type.key, len(items)) from exc  # the first payload not added
    return items


def chunk_size(count: int) -> int:
    """Jobs per pipeline for a bulk of ``count``: :data:`CHUNK`, or fewer so that a bulk fills
    :data:`IN_FLIGHT` pipelines (Redis runs one while the next is built), down to
    :data:`MIN_CHUNK`."""
    return max(MIN_CHUNK, min(CHUNK, -(-count // IN_FLIGHT)))


def distinct(items: list[Item]) -> list[Item]:
    """``items`` without repeats of a job id (BullMQ and the outbox keep one job per id)."""
    seen: dict[str, Item] = {}
    for item in items:
        seen.setdefault(item.id, item)
    return list(seen.values())


async def enqueue_many(
    producer: Producer,
    queue: str,
    name: str,
    payloads: Sequence[Mapping[str, Any] | Payload],
    options: EnqueueOptions | Sequence[EnqueueOptions | None] | None = None,
    session: AsyncSession | None = None,
    company_id: int | None = None,
) -> list[Enqueued]:
    """Validate and enqueue many jobs of one type, one :class:`Enqueued` per payload, in order
    (``Producer.enqueue_many``, this function as a method); ``options`` is one for all or one per
    payload. One bad payload raises :class:`InvalidJobPayload` naming its index and field, and
    nothing is enqueued."""
    from ils.queue.producer import Enqueued

    job_type = producer.registry.get(queue, name)
    items = validated(producer, job_type, payloads, options, company_id)
    unique = distinct(items)
    if session is not None:
        relay = producer.relay_for(f"enqueueing {job_type.key} in bulk with a session")
        await relay.write_many(session, [item.row(queue, name) for item in unique])
        return [Enqueued(queue, name, item.id, "outbox") for item in items]
    ids = await _add(producer, job_type, unique)
    modes = dict(ids)
    return [
        Enqueued(queue, name, modes[item.id][0], modes[item.id][1], modes[item.id][2])
        for item in items
    ]  # fmt: skip


async def _add(
    producer: Producer, job_type: JobType, items: list[Item]
) -> list[tuple[str, tuple[str, Any, Any]]]:
    """Add ``items`` in order, chunk by chunk, ``IN_FLIGHT`` chunks sent at once (the next one
    is built while Redis runs the last: :func:`ils.queue.add_stream.add_in_order`); for each row
    id, (job id, mode, inline result). The chunks Redis did not confirm, once it stops
    answering, go to the fallback together."""
    adder = producer.broker.queues.adder(job_type.queue)
    size = chunk_size(len(items))
    chunks = (
        [bulk_job(adder, job_type.name, i.encoded, i.shared, i.company_id, i.id)
         for i in items[start : start + size]]
        for start in range(0, len(items), size)
    )  # fmt: skip
    confirmed, error = await add_in_order(adder, chunks, IN_FLIGHT)
    out: list[tuple[str, tuple[str, Any, Any]]] = []
    for item, result in zip(items, (r for answers in confirmed for r in answers), strict=False):
        if isinstance(result, BaseException):
            raise result
        out.append((item.id, (result, "queued", None)))
    if error is not None:
        rest = items[len(out) :]
        out += await _fall_back(producer, job_type, rest, error, added=len(out))
    return out


async def _fall_back(
    producer: Producer, job_type: JobType, rest: list[Item], exc: BaseException, added: int
) -> list[tuple[str, tuple[str, Any, Any]]]:
    """The queue's fallback policy for the jobs of a bulk Redis did not confirm."""
    spec = producer.settings.queue(job_type.queue)
    if spec.fallback == "spool":
        rows = [i.row(job_type.queue, job_type.name) for i in rest]
        await producer.spool_rows(rows, job_type.key, exc)
        return [(i.id, (i.id, "spooled", None)) for i in rest]
    if spec.fallback == "raise":
        raise BrokerUnavailable(
            f"could not enqueue {len(rest)} jobs of {job_type.key} ({added} were added): Redis "
            f"at {redact(producer.broker.url_for(job_type.queue))} unreachable ({exc}); their "
            "ids are fixed, so sending the bulk again adds each job once"
        ) from exc
    out = []
    for item in rest:
        ran = await producer.fallback(
            job_type, spec, item.typed, item.options, exc, item.company_id
        )
        out.append((item.id, (ran.job_id, "inline", ran.result)))
    return out
