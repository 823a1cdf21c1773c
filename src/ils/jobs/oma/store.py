"""The OMA job types' database side: the order a file belongs to (its own company's only), the
file's row written once per job id (an upsert), and what an export or a render reads back.

Imported by the handlers when they run, never by the declarations (SQLAlchemy stays out of a
worker's start-up)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.db import Database, upsert_by_job
from ils.domain.models import OmaFile, Order
from ils.domain.models.types import utcnow
from ils.errors import GiveUp


@dataclass(frozen=True)
class OrderRef:
    id: int
    number: str
    owner_user_id: int | None


#: What a file needs of its order (an ORM load would also fetch the order's lines).
_ORDER_REF = select(Order.id, Order.number, Order.created_by_user_id)


async def find_order(
    db: Database, company_id: int, order_id: int | None, job_ref: str | None
) -> OrderRef:
    """The order the file belongs to: ``order_id`` when given (it must be the company's), else
    the company's order whose number is the file's ``JOB``. Another company's order reads as a
    missing one."""
    if order_id is not None:
        where = (Order.id == order_id, Order.company_id == company_id)
        missing = f"orderId: order {order_id} not found for company {company_id}"
    elif job_ref:
        where = (Order.company_id == company_id, Order.number == job_ref)
        missing = f"JOB: no order {job_ref!r} in company {company_id}"
    else:
        raise GiveUp("JOB: the file has no JOB record and no orderId was given")
    async with db.session() as session:
        found = (await session.execute(_ORDER_REF.where(*where))).first()
    if found is None:
        raise GiveUp(missing)
    return OrderRef(found.id, found.number, found.created_by_user_id)


STORED = ("company_id", "order_id", "job_ref", "filename", "path", "size", "sha256", "status",
          "data", "traces", "issues", "created_at")  # fmt: skip


@functools.cache
def _upsert(dialect: str) -> Any:
    """The row's upsert for ``dialect``, built once."""
    return upsert_by_job(dialect, OmaFile, STORED)


async def save(db: Database, job_id: str, values: dict[str, Any], records: int) -> int:
    """The job's file row, inserted, or brought up to date when the job ran before, with its
    ``oma.file_processed`` event (once per job; ``records``: how many the file has) in the same
    transaction."""
    from ils.events.emit_jobs import oma_file_processed

    params = {"job_id": job_id, "created_at": utcnow(), **values}
    async with db.session() as session:
        row_id: int = (await session.execute(_upsert(db.engine.dialect.name), params)).scalar_one()
        await oma_file_processed(session, row_id, params, records)
    return row_id


async def set_svg(db: Database, oma_file_id: int, svg_path: str) -> None:
    async with db.session() as session:
        done = await session.execute(
            update(OmaFile).where(OmaFile.id == oma_file_id).values(svg_path=svg_path)
        )
        if not done.rowcount:  # type: ignore[attr-defined]
            raise GiveUp(f"OMA file {oma_file_id} no longer exists")


async def load_file(db: Database, oma_file_id: int) -> OmaFile:
    async with db.session() as session:
        row = await session.get(OmaFile, oma_file_id)
    if row is None:
        raise GiveUp(f"OMA file {oma_file_id} no longer exists")
    return row


async def latest_for_order(session: AsyncSession, order_id: int) -> OmaFile | None:
    """The order's newest OMA file, or None."""
    return await session.scalar(
        select(OmaFile)
        .where(OmaFile.order_id == order_id)
        .order_by(OmaFile.created_at.desc(), OmaFile.id.desc())
        .limit(1)
    )


ORDER_COLUMNS = ("number", "right_sphere", "right_cylinder", "right_axis", "right_add",
                 "left_sphere", "left_cylinder", "left_axis", "left_add", "pd_binocular",
                 "pd_right", "pd_left", "frame_a", "frame_b", "frame_dbl", "frame_ed")  # fmt: skip


async def order_values(session: AsyncSession, company_id: int, order_id: int) -> dict[str, Any]:
    """The columns of the company's order an exported file is written from (another company's
    order reads as a missing one)."""
    order = await session.get(Order, order_id)
    if order is None or order.company_id != company_id:
        raise GiveUp(f"orderId: order {order_id} not found for company {company_id}")
    return {"id": order.id} | {name: getattr(order, name) for name in ORDER_COLUMNS}
