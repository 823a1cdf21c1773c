"""Recording a domain event: validated against its type's schema and added to the caller's
session, so it commits (or rolls back) with the change it describes.

Recording also queues, once per transaction, the job that hands new events to the subscribers
(``dispatch-events``) through the same transaction's outbox: an event exists and is delivered iff
its change committed, and survives Redis being down until the relay adds the job. An event a job's
run owes is recorded unless a run of the same job recorded it (:func:`record_unless_seen`: one
guarded statement, no read first).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, cast

from pydantic import BaseModel, ValidationError
from sqlalchemy import Insert, Table, bindparam, exists, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models.events import Event
from ils.domain.models.types import utcnow
from ils.errors import InvalidEventData
from ils.events.catalog import latest_version, schema_of
from ils.events.envelope import Actor, Subject, new_event_id

if TYPE_CHECKING:
    from ils.queue.producer import Producer

#: ``session.info`` key: the transaction already queues a dispatch.
DISPATCH_QUEUED = "ils.events.dispatch_queued"
#: ``session.info`` key: who the session acts for (the web app sets the request's user).
ACTOR_INFO = "ils.events.actor"


def act_as(session: AsyncSession, actor: Actor) -> None:
    """Make ``actor`` the default actor of the events ``session`` records."""
    session.info[ACTOR_INFO] = actor


def actor_of(session: AsyncSession) -> Actor:
    """Who ``session`` acts for: as set by :func:`act_as`, else the system."""
    found = session.info.get(ACTOR_INFO)
    return found if isinstance(found, Actor) else Actor.system()


def validated(event_type: str, version: int | None, data: Mapping[str, Any] | BaseModel
              ) -> tuple[int, dict[str, Any]]:  # fmt: skip
    """The version and the JSON form of ``data`` checked against ``event_type``'s schema (its
    newest version when ``version`` is None); :class:`InvalidEventData` names each bad field."""
    chosen = version if version is not None else latest_version(event_type)
    model = schema_of(event_type, chosen) if chosen is not None else None
    if chosen is None or model is None:
        what = "type" if latest_version(event_type) is None else "version"
        raise InvalidEventData(event_type, [{"field": what, "message": f"unknown event {what}"}])
    raw = data.model_dump() if isinstance(data, BaseModel) else dict(data)
    try:
        typed = model.model_validate(raw)
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in err["loc"]) or "data", "message": err["msg"]}
            for err in exc.errors()
        ]
        raise InvalidEventData(event_type, errors) from None
    return chosen, typed.model_dump(mode="json")


def _values(
    session: AsyncSession,
    event_type: str,
    company_id: int | None,
    subject: Subject | tuple[str, int | str],
    data: Mapping[str, Any] | BaseModel,
    actor: Actor | None,
    version: int | None,
    occurred_at: dt.datetime | None,
) -> dict[str, Any]:
    """The event's row: its data checked against the schema, its actor and id."""
    chosen, payload = validated(event_type, version, data)
    about = subject if isinstance(subject, Subject) else Subject.of(*subject)
    who = actor or actor_of(session)
    return {
        "id": new_event_id(),
        "type": event_type,
        "version": chosen,
        "company_id": company_id,
        "actor_kind": who.kind,
        "actor_user_id": who.user_id,
        "actor_job_id": who.job_id,
        "subject_type": about.type,
        "subject_id": about.id,
        "occurred_at": occurred_at or utcnow(),
        "data": payload,
    }


async def record(
    session: AsyncSession,
    event_type: str,
    *,
    company_id: int | None,
    subject: Subject | tuple[str, int | str],
    data: Mapping[str, Any] | BaseModel,
    actor: Actor | None = None,
    version: int | None = None,
    occurred_at: dt.datetime | None = None,
    dispatch: bool = True,
    producer: Producer | None = None,
) -> Event:
    """Add one event to ``session`` (the caller's transaction) and return it.

    ``data`` is checked against the schema of ``event_type`` at ``version`` (default: the
    newest); a bad payload raises :class:`~ils.errors.InvalidEventData` and adds nothing.
    ``actor`` defaults to the session's (:func:`actor_of`). ``dispatch`` (default) queues the
    subscribers' dispatch in the same transaction (through ``producer``, else the session's).
    """
    values = _values(session, event_type, company_id, subject, data, actor, version, occurred_at)
    event = Event(**values)
    session.add(event)
    if dispatch:
        await _queue_dispatch(session, event.id, producer)
    return event


@functools.cache
def _insert_unless_seen() -> Insert:
    """The event's insert, guarded: no row when one of the same type, job and subject is there
    (built once; every value a bound parameter)."""
    table = cast(Table, Event.__table__)
    columns = [c.name for c in table.columns]
    seen = exists().where(
        table.c.type == bindparam("type"),
        table.c.actor_job_id == bindparam("actor_job_id"),
        table.c.subject_type == bindparam("subject_type"),
        table.c.subject_id == bindparam("subject_id"),
    )
    row = select(*(bindparam(name, type_=table.c[name].type) for name in columns)).where(~seen)
    return insert(table).from_select(columns, row)


async def record_unless_seen(
    session: AsyncSession,
    event_type: str,
    *,
    job_id: str,
    company_id: int | None,
    subject: Subject,
    data: Mapping[str, Any] | BaseModel,
    producer: Producer | None = None,
) -> bool:
    """Record the event a job's run owes (the system acting for job ``job_id``) and queue its
    dispatch, unless a run of the same job recorded it (same type, job and subject): one
    statement either way. Whether it was recorded now."""
    actor = Actor.system(job_id=job_id)
    values = _values(session, event_type, company_id, subject, data, actor, None, None)
    result = await session.execute(_insert_unless_seen(), values)
    if not result.rowcount:  # type: ignore[attr-defined]
        return False
    await _queue_dispatch(session, values["id"], producer)
    return True


async def _queue_dispatch(session: AsyncSession, event_id: str, producer: Producer | None) -> None:
    """One ``dispatch-events`` job per transaction, through its outbox (its id from the first
    event's, so a retried transaction queues no second job)."""
    if session.info.get(DISPATCH_QUEUED) is session.sync_session.get_transaction():
        return
    from ils.jobs.notification.events import queue_dispatch

    if await queue_dispatch(session, event_id, producer):
        session.info[DISPATCH_QUEUED] = session.sync_session.get_transaction()
