"""The job system's own tables: the outbox (jobs written in the caller's database transaction,
relayed to BullMQ later) and the dead letters (jobs that failed for good).

Defined on their own metadata (``ils.queue`` knows nothing of the ILS domain); migrations create
them beside the domain tables. An outbox row's ``id`` becomes the BullMQ job id, so relaying twice
adds once; a dead letter is one per queue and job id, so recording twice keeps one.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from ils.queue.outbox_row import OUTBOX_TABLE, RELAYED_AT

outbox_metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "pk": "pk_%(table_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
    }
)

outbox = Table(
    OUTBOX_TABLE,
    outbox_metadata,
    Column("id", String(40), primary_key=True),
    Column("queue", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("payload", JSON, nullable=False),
    Column("options", JSON, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column(RELAYED_AT, DateTime(timezone=True), nullable=True),
    Column("relay_attempts", Integer, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    # The job's company (also stamped in the payload, see ils.queue.tenancy); None: system work.
    Column("company_id", Integer, nullable=True),
    # The relay's claims and its probe (ils.queue.outbox_probe) read through this index.
    Index("ix_job_outbox_pending", RELAYED_AT, "created_at"),
    Index("ix_job_outbox_company", "company_id", RELAYED_AT, "created_at"),
)

dead_letters = Table(
    "job_dead_letters",
    outbox_metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("queue", String(32), nullable=False),
    Column("name", String(64), nullable=False),
    Column("job_id", String(200), nullable=False),
    # The job's company (from its data's stamp, see ils.queue.tenancy); None: system work.
    Column("company_id", Integer, nullable=True),
    # The payload without the company stamp, as the job carried it (camelCase from the wire).
    Column("payload", JSON, nullable=False),
    Column("reason", Text, nullable=False),
    Column("stack", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("first_failed_at", DateTime(timezone=True), nullable=False),
    Column("last_failed_at", DateTime(timezone=True), nullable=False),
    # The job id of its replay (``dlq-<id>``) once replayed; replaying again returns it.
    Column("replayed_as", String(40), nullable=True),
    Column("replayed_at", DateTime(timezone=True), nullable=True),
    UniqueConstraint("queue", "job_id"),
    Index("ix_job_dead_letters_last_failed", "last_failed_at"),
    Index("ix_job_dead_letters_company", "company_id", "last_failed_at"),
)
