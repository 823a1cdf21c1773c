"""An outbox row as the producer writes it and the relay reads it, and the outbox table's names,
without SQLAlchemy: the producer, the relay's sweep and its probe (:mod:`ils.queue.outbox_probe`)
import this module; the table itself (:mod:`ils.queue.outbox_table`) and the storage that reads and
writes it (:mod:`ils.queue.outbox`) are loaded when a process first has rows to write or relay.
"""

from __future__ import annotations

import datetime as dt
import sys
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ils.errors import ConfigurationError
from ils.queue.tenancy import job_company

# The table's names, declared once: the table (ils.queue.outbox_table) is built from them and the
# probe's statement is written with them.
OUTBOX_TABLE = "job_outbox"
RELAYED_AT = "relayed_at"

# The width of ``job_outbox.id``: a job id given by the caller must fit in it.
OUTBOX_ID_MAX = 40
# ``last_error`` keeps the start of a message; a relay error is not a log.
ERROR_MAX = 1_000


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def statement_error(exc: BaseException) -> Any:
    """``exc`` if it is SQLAlchemy's :class:`~sqlalchemy.exc.StatementError` (which quotes the
    statement's parameters), else None. A process that has not loaded SQLAlchemy has none."""
    errors = sys.modules.get("sqlalchemy.exc")
    return exc if errors is not None and isinstance(exc, errors.StatementError) else None


def describe_error(exc: BaseException) -> str:
    """An error for a log line or an exception message, without the statement's parameters (a
    failed INSERT of an outbox row would otherwise carry its payload, which may be patient data)."""
    if (failed := statement_error(exc)) is not None:
        cause = failed.orig if failed.orig is not None else "statement failed"
        return f"{type(exc).__name__}: {cause}"
    return f"{type(exc).__name__}: {exc}"


def aware(value: dt.datetime) -> dt.datetime:
    # SQLite keeps no time zone; every time written here is UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class OutboxRow:
    """One job in the outbox: what to add to BullMQ, and how relaying it has gone so far."""

    id: str
    queue: str
    name: str
    payload: dict[str, Any]
    options: dict[str, Any]
    created_at: dt.datetime
    relayed_at: dt.datetime | None = None
    relay_attempts: int = 0
    last_error: str | None = None
    company_id: int | None = None

    @classmethod
    def new(
        cls, queue: str, name: str, payload: Mapping[str, Any], options: Mapping[str, Any]
    ) -> OutboxRow:
        """A row for a job about to be written: its id is the caller's ``jobId`` or a uuid4 hex."""
        job_id = str(options.get("jobId") or uuid.uuid4().hex)
        if len(job_id) > OUTBOX_ID_MAX or ":" in job_id:
            raise ConfigurationError(
                f"job id {job_id!r} cannot be an outbox id: at most {OUTBOX_ID_MAX} characters, "
                "no ':'"
            )
        return cls(
            id=job_id,
            queue=queue,
            name=name,
            payload=dict(payload),
            options={**options, "jobId": job_id},
            created_at=utcnow(),
            company_id=job_company(payload),
        )

    def job_options(self, now: dt.datetime) -> dict[str, Any]:
        """BullMQ options for adding this job at ``now``: its id, and what is left of its delay
        (a job delayed by a minute and relayed after an hour-long outage is due at once)."""
        opts = {**self.options, "jobId": self.id}
        delay_ms = int(opts.pop("delay", 0) or 0)
        waited_ms = int((now - aware(self.created_at)).total_seconds() * 1000)
        if delay_ms - waited_ms > 0:
            opts["delay"] = delay_ms - waited_ms
        return opts
