"""``export-oma-file``: an order's DCS file written from its Rx and frame columns and the traces
of its newest stored OMA file, delivered to the lab's drop folder or stored for download.

:func:`compose` is also what ``GET /api/orders/{id}/oma?regenerated=true`` answers with.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ils.files import safe_name
from ils.jobs.oma import store
from ils.jobs.oma.reading import order_fields, stored_traces
from ils.oma import Trace, build, write

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.jobs.oma.handlers import ExportOmaFile
    from ils.jobs.resources import Ctx


def compose(order: dict[str, Any], traces: list[Trace]) -> bytes:
    """The DCS bytes of an order (its column values, see :func:`store.order_values`)."""
    return write(build(order_fields(order), traces))


async def regenerate(session: AsyncSession, company_id: int, order_id: int) -> tuple[str, bytes]:
    """The order's number and its DCS bytes (another company's order: :class:`GiveUp`)."""
    order = await store.order_values(session, company_id, order_id)
    latest = await store.latest_for_order(session, order_id)
    traces = stored_traces(latest.traces) if latest is not None else []
    return str(order["number"]), compose(order, traces)


async def export(payload: ExportOmaFile, ctx: Ctx) -> dict[str, Any]:
    """order and its newest trace -> DCS bytes -> the drop folder, or the file storage."""
    async with ctx.resources.db.session() as session:
        number, data = await regenerate(session, payload.company_id, payload.order_id)
    name = f"{safe_name(number)}.oma"
    if payload.deliver == "drop":
        target = ctx.resources.oma_folders.deliver(payload.company_id, name, data)
        return {"delivered": target.name, "size": len(data)}
    key = f"{payload.company_id}/oma-export/{safe_name(ctx.job_id)}-{name}"
    stored = ctx.resources.files.put(key, data)
    return {"path": stored.key, "size": stored.size, "sha256": stored.sha256}
