"""The delivery job's database work, shared by the deliveries one process runs at once: their
endpoints read in one query (and with them, in another, whether an attempt of the same delivery
job already succeeded), and the rows of the attempts that finish together written in one
transaction (:class:`~ils.jobs.coalesce.Coalescer`). A busy worker makes a few transactions a
second for its deliveries instead of two per delivery.

A delivery job added again under the same id after BullMQ dropped its completed job (past the
queue's retention), or run again after its worker died between the send's row and BullMQ's
completion, finds its succeeded attempt and sends nothing: one event reaches one endpoint once
per delivery job (a replay or an admin's retry is a job of its own).

Each delivery still reads its endpoint after it started (never an older read), and each attempt
still has exactly one row (its job id and attempt are unique: a second write of the same attempt
adds nothing and changes nothing else). A success resets the endpoint's failure streak in the
same transaction as its row; an attempt that failed for good, which lengthens the streak and may
disable the endpoint, is recorded on its own (:func:`ils.jobs.webhooks.record.record`), as is
every attempt of a batch that failed as a whole (an endpoint deleted meanwhile).

Imported by the handler when it runs (SQLAlchemy), never by the declaration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from sqlalchemy import select

from ils.domain.db import Database, conflict_insert
from ils.domain.models import WebhookDelivery, WebhookEndpoint
from ils.domain.models.types import utcnow
from ils.errors import GiveUp
from ils.jobs.coalesce import Coalescer, PerObject
from ils.jobs.webhooks.record import Attempt, record, reset_streaks, row_values
from ils.jobs.webhooks.sender import Sent
from ils.queue.producer import Producer

#: One attempt to record: the attempt, its outcome, whether it was the last (``final``), the
#: streak's threshold (None: a test-send, which counts in no streak), and the producer of the
#: admins' notice should the endpoint be disabled.
Item = tuple[Attempt, Sent, bool, int | None, Producer]


class Ledger:
    """One database's coalesced endpoint reads and attempt rows (see the module's docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._endpoints: Coalescer[int, WebhookEndpoint] = Coalescer(self._read)
        self._succeeded: Coalescer[str, bool] = Coalescer(self._read_succeeded)
        self._rows: Coalescer[Item, bool] = Coalescer(self._write)

    async def endpoint(self, endpoint_id: int) -> WebhookEndpoint:
        """The endpoint as it is now; :class:`GiveUp` when it no longer exists."""
        return await self._endpoints(endpoint_id)

    async def succeeded(self, job_id: str) -> bool:
        """Whether an attempt of delivery job ``job_id`` already succeeded."""
        return await self._succeeded(job_id)

    async def _read_succeeded(self, job_ids: list[str]) -> list[bool]:
        c = WebhookDelivery
        query = select(c.job_id).where(c.job_id.in_(sorted(set(job_ids))), c.ok.is_(True))
        async with self.db.session() as session:
            found = set(await session.scalars(query))
        return [job_id in found for job_id in job_ids]

    async def record(
        self, producer: Producer, attempt: Attempt, sent: Sent, final: bool,
        disable_after: int | None,
    ) -> bool:  # fmt: skip
        """:func:`ils.jobs.webhooks.record.record`, in a transaction shared with the attempts
        that finish meanwhile unless this one lengthens the endpoint's streak."""
        if disable_after is not None and final and not sent.ok:
            return await record(self.db, producer, attempt, sent, final, disable_after)
        return await self._rows((attempt, sent, final, disable_after, producer))

    async def _read(self, ids: list[int]) -> list[WebhookEndpoint | BaseException]:
        async with self.db.session() as session:
            rows = await session.scalars(
                select(WebhookEndpoint).where(WebhookEndpoint.id.in_(sorted(set(ids))))
            )
            found = {row.id: row for row in rows}
        return [found.get(i) or GiveUp(f"webhook endpoint {i} no longer exists") for i in ids]

    async def _write(self, items: list[Item]) -> Sequence[bool | BaseException]:
        try:
            return await self._write_together(items)
        except Exception:
            if len(items) == 1:
                raise
        # One bad row (its endpoint deleted meanwhile) must not fail the others: each alone.
        return await asyncio.gather(
            *(record(self.db, producer, a, sent, final, after)
              for a, sent, final, after, producer in items),
            return_exceptions=True,
        )  # fmt: skip

    async def _write_together(self, items: list[Item]) -> list[bool]:
        """Every item's row in one statement (those already recorded skipped), and the streak
        of the endpoints whose new rows succeeded reset, in one transaction; whether each item's
        row is new."""
        now = utcnow()
        values = [
            {**row_values(a, sent), "at": now} for a, sent, _final, _after, _producer in items
        ]
        c = WebhookDelivery
        insert = conflict_insert(self.db.dialect)(c).values(values)
        statement = insert.on_conflict_do_nothing(index_elements=[c.job_id, c.attempt]).returning(
            c.job_id, c.attempt
        )
        async with self.db.session() as session:
            new = {(job_id, n) for job_id, n in (await session.execute(statement)).all()}
            first: set[tuple[str, int]] = set()
            written = []
            for a, *_rest in items:
                key = (a.job_id, a.attempt)
                written.append(key in new and key not in first)
                first.add(key)
            reset = sorted(
                {a.endpoint.id for (a, sent, _f, after, _p), w in zip(items, written, strict=True)
                 if w and sent.ok and after is not None}
            )  # fmt: skip
            if reset:
                await reset_streaks(session, reset)
        return written


#: The ledger of a database in this process (made at its first delivery).
ledger_for: PerObject[Database, Ledger] = PerObject(Ledger)
