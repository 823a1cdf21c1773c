"""Where the AI jobs keep what they found: one ``ai_results`` row per job (upserted on its job
id, so a retried job updates its row instead of adding one), and the follow-up jobs they enqueue
(notifications, emails) with ids derived from their own, so a retry enqueues nothing twice.
SQLAlchemy and the models are imported when a result is first stored or read, not with the job
declarations that import this module.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

from ils.domain.enums import AiResultKind
from ils.jobs.resources import Ctx
from ils.queue.producer import EnqueueOptions

if TYPE_CHECKING:
    from collections.abc import Awaitable, Callable

    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.db import Database
    from ils.domain.models import AiResult


def follow_up(ctx: Ctx, what: str) -> EnqueueOptions:
    """Options giving a follow-up job an id made from this job's id and ``what``: a retry of
    this job adds the same id, which BullMQ (and the outbox) take only once."""
    digest = hashlib.sha256(f"{ctx.job_id}|{what}".encode()).hexdigest()[:32]
    return EnqueueOptions(job_id=f"ai-{digest}")


async def store(
    db: Database,
    company_id: int,
    kind: AiResultKind,
    job_id: str,
    data: dict[str, Any],
    for_date: dt.date | None = None,
    then: Callable[[AsyncSession, int], Awaitable[None]] | None = None,
) -> int:
    """The job's result row, inserted or (when the job ran before) replaced; its id. ``then``
    runs in the same transaction with the row's id (the events the result owes)."""
    from ils.domain.db import conflict_insert
    from ils.domain.models import AiResult
    from ils.domain.models.types import utcnow

    fields = {"company_id": company_id, "kind": kind, "for_date": for_date, "data": data,
              "created_at": utcnow()}  # fmt: skip
    insert = conflict_insert(db.engine.dialect.name)
    upsert = (
        insert(AiResult)
        .values(job_id=job_id, **fields)
        .on_conflict_do_update(index_elements=[AiResult.job_id], set_=fields)
        .returning(AiResult.id)
    )
    async with db.session() as session:
        result_id: int = (await session.execute(upsert)).scalar_one()
        if then is not None:
            await then(session, result_id)
    return result_id


async def latest(
    db: Database, company_id: int, kind: AiResultKind, since: dt.datetime | None = None
) -> AiResult | None:
    """The company's newest result of ``kind`` (made after ``since``, if given)."""
    from sqlalchemy import select

    from ils.domain.models import AiResult

    query = select(AiResult).where(AiResult.company_id == company_id, AiResult.kind == kind)
    if since is not None:
        query = query.where(AiResult.created_at >= since)
    async with db.session() as session:
        return await session.scalar(query.order_by(AiResult.id.desc()).limit(1))
