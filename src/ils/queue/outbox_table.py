"""The outbox table: jobs written in the caller's database transaction, relayed to BullMQ later.

Defined on its own metadata (``ils.queue`` knows nothing of the ILS domain); migrations create it
beside the domain tables. A row's ``id`` becomes the BullMQ job id, so relaying twice adds once.
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
)

from ils.queue.outbox_row import OUTBOX_TABLE, RELAYED_AT

outbox_metadata = MetaData(
    naming_convention={"ix": "ix_%(column_0_label)s", "pk": "pk_%(table_name)s"}
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
