"""The outbox as the queue admin shows it: pending jobs, one of them as a job in state
``outbox``, relaying them now, discarding one, each within the viewer's scope (a company sees and
discards only its own rows; relaying is queue-wide).

Reached through :class:`ils.queue.admin.QueueAdmin` (``admin.outbox``), so the outbox routes apply
the same company filter and masking as the job routes.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from ils.errors import JobNotFound
from ils.queue.browse import JobDetail, TypeOf
from ils.queue.outbox_row import OutboxRow
from ils.queue.registry import mask_personal
from ils.queue.tenancy import ViewerScope, without_company

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.queue.outbox import Outbox
    from ils.queue.relay import OutboxRelay


#: The state a job shows while it waits in the outbox (not one of BullMQ's).
OUTBOX_STATE = "outbox"


class OutboxAdmin:
    """Scoped reads and actions on one database's outbox."""

    def __init__(self, relay: OutboxRelay, type_of: TypeOf) -> None:
        self.relay = relay
        self.type_of = type_of

    @property
    def outbox(self) -> Outbox:
        """The relay's outbox (made at first use: the admin of a worker may never need it)."""
        return self.relay.outbox

    def view(self, row: OutboxRow, scope: ViewerScope) -> dict[str, Any]:
        """The row as ``scope`` may see it: the payload without the company stamp, its personal
        fields masked for a masked scope."""
        out = asdict(row)
        payload = without_company(row.payload)
        if scope.mask:
            payload = mask_personal(self.type_of(row.queue, row.name), payload)
        out["payload"] = payload
        return out

    async def pending(
        self, session: AsyncSession, scope: ViewerScope, limit: int = 50, offset: int = 0
    ) -> tuple[int, list[dict[str, Any]]]:
        """How many jobs of the scope wait in the outbox, and one page of them."""
        rows = await self.outbox.pending_rows(session, limit, offset, scope.company_id)
        count = await self.outbox.count(True, session, scope.company_id)
        return count, [self.view(row, scope) for row in rows]

    async def detail(
        self, session: AsyncSession, scope: ViewerScope, queue: str, row_id: str
    ) -> JobDetail:
        """A job of ``queue`` still in the outbox (written with its transaction, not yet added to
        Redis by the relay) as a job detail in state ``outbox``; :class:`JobNotFound` for a row
        that is not pending, of another queue, or of another company. The relay's last error is
        the platform's to read."""
        row = await self.outbox.pending_row(session, row_id, scope.company_id)
        if row is None or row.queue != queue:
            raise JobNotFound(f"no job {queue}/{row_id}")
        seen = self.view(row, scope)
        options = dict(row.options)
        return JobDetail(
            id=row.id, queue=queue, name=row.name, state=OUTBOX_STATE, data=seen["payload"],
            options=options, attempts_made=0, attempts=int(options.get("attempts") or 1),
            progress=0, return_value=None,
            failed_reason=None if scope.mask or not scope.all_companies else row.last_error,
            stacktrace=[], logs=[], log_count=0,
            timestamp=int(row.created_at.timestamp() * 1000), processed_on=None,
            finished_on=None, delay=int(options.get("delay") or 0), parent=None, children=[],
            company_id=row.company_id,
        )  # fmt: skip

    async def discard(self, session: AsyncSession, scope: ViewerScope, row_id: str) -> OutboxRow:
        """Delete a pending row of the scope, in the caller's transaction; :class:`JobNotFound`
        for a missing row and another company's alike."""
        row = await self.outbox.pending_row(session, row_id, scope.company_id)
        if row is None or not await self.outbox.discard(session, row_id, scope.company_id):
            raise JobNotFound(f"no pending outbox job {row_id}")
        return row

    async def relay_now(self, scope: ViewerScope) -> int:
        """Relay every pending job now; every company's, so for the platform operator only."""
        scope.require_all_companies("relaying the outbox")
        return await self.relay.relay_pending()

    async def count(self, scope: ViewerScope, session: AsyncSession | None = None) -> int:
        return await self.outbox.count(True, session, scope.company_id)
