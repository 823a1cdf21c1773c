"""The dead letters seen from the queue admin: jobs that failed for good, listed (filtered by
queue, job name, company and time, paged), inspected, replayed one or many, discarded.

For the three admin roles (``queue.dead_letters`` in the policy table), through the admin layer's
scoped view (:class:`ils.queue.dead_letter_admin.DeadLetterAdmin`): a company's admin sees,
replays and discards its own company's dead letters only (another's is a 404, like a missing
one), ``company_admin`` sees the payload's personal fields and the failure's text masked, the
platform admin sees every company's. Replays and discards are audited in the request's
transaction; a replay's job goes through the outbox in that same transaction, so it is enqueued
exactly when the request commits, and a second replay returns the first one's job.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, Field

from ils.queue.dead_letter_admin import MAX_BULK
from ils.queue.dead_letters import MAX_PAGE_SIZE, DeadLetterFilter
from ils.web.auth.audit import record_audit
from ils.web.auth.dependencies import DbSession
from ils.web.auth.policy import permit
from ils.web.errors import ErrorOut
from ils.web.quota_deps import BulkQuota
from ils.web.routes.queue import ACTION_ERRORS, Admin, QueueName, Scope
from ils.web.routes.queue_actions import Act, Acting

router = APIRouter(
    prefix="/api/queue/dead-letters",
    tags=["queue admin"],
    dependencies=[permit("queue.dead_letters")],
)

DeadLetterId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the dead letter's id")]
ERRORS = {
    **ACTION_ERRORS,
    409: {
        "model": ErrorOut,
        "description": "the dead letter cannot be replayed (its type is "
        "gone, or its payload no longer validates)",
    },
}


class DeadLetterOut(BaseModel):
    id: int
    queue: str
    name: str
    job_id: str = Field(description="the failed job's id in its queue")
    company_id: int | None = Field(description="the job's company; None for system work")
    payload: Any = Field(description="personal fields masked for company_admin")
    reason: str = Field(description="why it failed; masked for company_admin, as is the stack")
    stack: str
    attempts: int = Field(description="attempts made")
    first_failed_at: dt.datetime
    last_failed_at: dt.datetime
    replayed_as: str | None = Field(description="its replay's job id (dlq-<id>), once replayed")
    replayed_at: dt.datetime | None


class DeadLetterPageOut(BaseModel):
    total: int
    page: int
    page_size: int
    dead_letters: list[DeadLetterOut]


class ReplayOut(BaseModel):
    dead_letter_id: int
    job_id: str | None = Field(description="the replay's job id, in the dead letter's queue")
    enqueued: bool = Field(description="False when it was replayed before (the same job id)")
    error: str | None = Field(None, description="why this one was not replayed (bulk replays)")


class ReplayManyIn(BaseModel):
    ids: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(min_length=1,
                                                                  max_length=MAX_BULK)  # fmt: skip


class ReplayManyOut(BaseModel):
    results: list[ReplayOut]


class DiscardOut(BaseModel):
    ok: bool = True
    id: int
    queue: str
    job_id: str


@router.get("", response_model=DeadLetterPageOut, responses=ACTION_ERRORS,
            summary="Jobs that failed for good, the latest failure first")  # fmt: skip
async def list_dead_letters(
    scope: Scope,
    admin: Admin,
    session: DbSession,
    queue: Annotated[QueueName | None, Query()] = None,
    name: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    company_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    since: Annotated[dt.datetime | None, Query(description="last failed at or after")] = None,
    until: Annotated[dt.datetime | None, Query(description="last failed before")] = None,
    replayed: Annotated[bool | None, Query(description="false: not replayed yet")] = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
) -> dict[str, Any]:
    which = DeadLetterFilter(queue, name, company_id, since, until, replayed)
    return await admin.dead_letters.page(session, scope, which, page, page_size)


async def _audit(act: Acting, action: str, target: int | None, detail: dict[str, Any]) -> None:
    await record_audit(act.session, act.user, f"queue.{action}", "dead_letter", target, detail,
                       act.request)  # fmt: skip


@router.post("/replay", response_model=ReplayManyOut, responses=ERRORS,
             summary="Replay many dead letters, each as a new job enqueued once")  # fmt: skip
async def replay_many(act: Act, body: ReplayManyIn, _quota: BulkQuota) -> dict[str, Any]:
    results = await act.admin.dead_letters.replay_many(act.session, act.scope, body.ids)
    enqueued = [r.dead_letter_id for r in results if r.enqueued]
    await _audit(act, "dead_letters_replay", None, {"ids": body.ids, "enqueued": enqueued})
    return {"results": [r.to_dict() for r in results]}


@router.get("/{dead_letter_id}", response_model=DeadLetterOut, responses=ACTION_ERRORS,
            summary="One dead letter: payload, failure reason, stack trace, attempts")  # fmt: skip
async def inspect_dead_letter(
    scope: Scope, admin: Admin, session: DbSession, dead_letter_id: DeadLetterId
) -> dict[str, Any]:
    return await admin.dead_letters.inspect(session, scope, dead_letter_id)


@router.post("/{dead_letter_id}/replay", response_model=ReplayOut, responses=ERRORS,
             summary="Replay a dead letter as a new job (dlq-<id>); again returns it")  # fmt: skip
async def replay_dead_letter(
    act: Act, dead_letter_id: DeadLetterId, _quota: BulkQuota
) -> dict[str, Any]:
    result = await act.admin.dead_letters.replay(act.session, act.scope, dead_letter_id)
    detail = {"job_id": result.job_id, "enqueued": result.enqueued}
    await _audit(act, "dead_letter_replay", dead_letter_id, detail)
    return result.to_dict()


@router.delete("/{dead_letter_id}", response_model=DiscardOut, responses=ACTION_ERRORS,
               summary="Discard a dead letter (its failed job stays until cleaned)")  # fmt: skip
async def discard_dead_letter(act: Act, dead_letter_id: DeadLetterId) -> dict[str, Any]:
    dead = await act.admin.dead_letters.discard(act.session, act.scope, dead_letter_id)
    await _audit(act, "dead_letter_discard", dead.id, {"queue": dead.queue, "job_id": dead.job_id})
    return {"id": dead.id, "queue": dead.queue, "job_id": dead.job_id}
