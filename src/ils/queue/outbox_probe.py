"""Whether the outbox relay's sweep has anything to do, asked with one indexed query through the
database's own driver: so a worker whose jobs have not needed the database loads neither
SQLAlchemy nor the outbox's storage (:mod:`ils.queue.outbox`) until there is a row to relay, or
one to purge.

The statement uses the table's names from the one place they are declared
(:mod:`ils.queue.outbox_row`) and reads through the table's ``(relayed_at, created_at)`` index:
``relayed_at IS NULL`` finds a pending row, ``MIN(relayed_at)`` the oldest relayed one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Protocol

from ils.queue.outbox_row import OUTBOX_TABLE, RELAYED_AT, aware

# (a pending row exists: 1 or NULL, the oldest relay time or NULL); the same text on SQLite and
# PostgreSQL, no parameters.
PROBE_SQL = (
    f"SELECT (SELECT 1 FROM {OUTBOX_TABLE} WHERE {RELAYED_AT} IS NULL LIMIT 1), "
    f"(SELECT MIN({RELAYED_AT}) FROM {OUTBOX_TABLE})"
)


class RowReader(Protocol):
    """Reads the first row of a parameterless statement (:class:`ils.domain.dbapi.DirectReader`)."""

    async def first_row(self, sql: str) -> tuple[Any, ...] | None: ...


def as_time(value: Any) -> dt.datetime | None:
    """A relay time as the driver returns it: a datetime (asyncpg), or SQLite's text of one,
    written in UTC without a zone."""
    if value is None:
        return None
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return aware(value)


class OutboxProbe:
    """Answers the sweep's question, "is there anything to do?", through ``reader``."""

    def __init__(self, reader: RowReader) -> None:
        self.reader = reader

    async def due(self, purge_before: dt.datetime | None = None) -> bool:
        """Whether a row waits to be relayed, or (given ``purge_before``) a row was relayed
        before that time. The driver's errors propagate (the sweep backs off on them)."""
        row = await self.reader.first_row(PROBE_SQL)
        pending, oldest = row if row is not None else (None, None)
        if pending is not None:
            return True
        oldest_relayed = as_time(oldest)
        return (
            purge_before is not None
            and oldest_relayed is not None
            and (oldest_relayed < purge_before)
        )
