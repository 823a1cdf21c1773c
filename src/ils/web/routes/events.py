"""The event log's API: the catalog (``GET /api/events/types``), the audit trail
(``GET /api/events``, an order's ``GET /api/orders/{id}/history``) and replay to one subscriber
(``POST /api/events/replay``). Reads only: no route updates or deletes an event.

Every read goes through :mod:`ils.events.log` with the caller's company (platform admins: every
company's), so a company sees its own events and another company's order is a 404.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, status
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ils.domain.models import Order, User
from ils.domain.services import Id
from ils.errors import ConfigurationError
from ils.events import log
from ils.events.catalog import EVENT_TYPES, json_schemas
from ils.events.envelope import EventEnvelope
from ils.events.replay import replay
from ils.events.subscribers import dispatcher_for
from ils.jobs.notification.events import SETTLE_S
from ils.jobs.webhooks.replay import replay_target, scoped
from ils.web.auth.context import web_context
from ils.web.auth.dependencies import DbSession
from ils.web.auth.ownership import get_owned, sees_all_companies
from ils.web.auth.policy import permit
from ils.web.quota_deps import BulkQuota
from ils.web.routes.queue import DENIED

router = APIRouter(tags=["events"])

Reader = Annotated[User, permit("events.read")]
Replayer = Annotated[User, permit("events.replay")]
OrderReader = Annotated[User, permit("orders.read")]
#: Most events one replay request hands over; a larger range is a 422 (use ``ils events replay``).
REPLAY_MAX = 10_000


class EventTypeOut(BaseModel):
    type: str
    version: int
    description: str
    schema_: dict[str, Any] = Field(alias="schema", serialization_alias="schema")

    model_config = ConfigDict(populate_by_name=True)


class EventPageOut(BaseModel):
    events: list[EventEnvelope]
    next_cursor: str | None = Field(description="pass as cursor for the next (older) page")


class HistoryOut(BaseModel):
    order_id: int
    events: list[EventEnvelope]


def _aware(at: dt.datetime | None) -> dt.datetime | None:
    return at if at is None or at.tzinfo else at.replace(tzinfo=dt.UTC)


def _types(raw: list[str] | None) -> list[str]:
    types = [t for item in raw or [] for t in item.split(",") if t]
    unknown = sorted(set(types) - set(EVENT_TYPES))
    if unknown:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["query", "type"], "msg": f"unknown event type {unknown[0]!r}",
                     "type": "value_error"}],
        )  # fmt: skip
    return types


def company_scope(user: User) -> int | None:
    """The company whose events ``user`` reads: their own; every company's for platform admins."""
    return None if sees_all_companies(user) else user.company_id


@router.get("/api/events/types", response_model=list[EventTypeOut], responses=DENIED,
            summary="The event catalog: each type and version, its data's JSON Schema")  # fmt: skip
async def event_types(_user: Reader) -> list[dict[str, Any]]:
    return json_schemas()


@router.get("/api/events", response_model=EventPageOut, responses=DENIED,
            summary="The event log, newest first, filtered; cursor-paged")  # fmt: skip
async def list_events(
    user: Reader,
    session: DbSession,
    type: Annotated[
        list[str] | None, Query(description="event types (repeat, or comma-separated)")
    ] = None,
    subject_type: Annotated[str | None, Query(max_length=40)] = None,
    subject_id: Annotated[str | None, Query(max_length=64)] = None,
    actor_user_id: Id | None = None,
    actor_job_id: Annotated[str | None, Query(max_length=200)] = None,
    since: Annotated[dt.datetime | None, Query(description="ISO 8601, inclusive")] = None,
    until: Annotated[dt.datetime | None, Query(description="ISO 8601, exclusive")] = None,
    company_id: Annotated[Id | None, Query(description="platform admins: one company's")] = None,
    cursor: Annotated[str | None, Query(max_length=26, pattern=r"^[0-9A-Z]{26}$")] = None,
    limit: Annotated[int, Query(ge=1, le=log.PAGE_MAX)] = 50,
) -> EventPageOut:
    scope = company_scope(user)
    which = log.EventFilter(
        company_id=scope if scope is not None else company_id, types=_types(type),
        subject_type=subject_type, subject_id=subject_id, actor_user_id=actor_user_id,
        actor_job_id=actor_job_id, since=_aware(since), until=_aware(until),
    )  # fmt: skip
    found = await log.page(session, which, limit, cursor)
    return EventPageOut(events=[e.envelope() for e in found.events], next_cursor=found.next_cursor)


@router.get("/api/orders/{order_id}/history", response_model=HistoryOut, responses=DENIED,
            summary="An order's events, oldest first: who changed what, when")  # fmt: skip
async def order_history(order_id: Id, user: OrderReader, session: DbSession) -> HistoryOut:
    order = await get_owned(session, Order, order_id, user)
    events = await log.history(session, company_scope(user), "order", str(order.id))
    return HistoryOut(order_id=order.id, events=[e.envelope() for e in events])


class ReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subscriber: str = Field(min_length=1, max_length=64)
    since: dt.datetime
    until: dt.datetime
    types: list[str] = Field(default_factory=list, max_length=50)
    company_id: Id | None = None
    dry_run: bool = False

    @model_validator(mode="after")
    def _range(self) -> ReplayIn:
        self.since, self.until = _aware(self.since), _aware(self.until)  # type: ignore[assignment]
        if self.until <= self.since:
            raise ValueError("until must be after since")
        unknown = sorted(set(self.types) - set(EVENT_TYPES))
        if unknown:
            raise ValueError(f"types: unknown event type {unknown[0]!r}")
        return self


class ReplayOut(BaseModel):
    subscriber: str
    matched: int
    delivered: int
    dry_run: bool
    failed_event: str | None
    error: str | None


@router.post("/api/events/replay", response_model=ReplayOut, responses=DENIED,
             summary="Hand a range of events again to one subscriber or webhook endpoint "
                     "(`webhook:<id>`; dry_run: count)")  # fmt: skip
async def replay_events(
    body: ReplayIn, _user: Replayer, request: Request, session: DbSession, _quota: BulkQuota
) -> ReplayOut:
    system = web_context(request).system
    which = log.EventFilter(company_id=body.company_id, types=body.types, since=body.since,
                            until=body.until)  # fmt: skip
    try:
        dispatcher = dispatcher_for(system.database, system.notifier, SETTLE_S)
        subscriber = await replay_target(session, dispatcher, body.subscriber)
        which = scoped(subscriber, which)
    except ConfigurationError as exc:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "subscriber"], "msg": str(exc), "type": "value_error"}],
        ) from exc
    counted = await replay(session, subscriber, which, dry_run=True)
    if body.dry_run:
        return ReplayOut(**counted.__dict__)
    if counted.matched > REPLAY_MAX:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[{"loc": ["body", "until"], "type": "value_error",
                     "msg": f"{counted.matched} events: at most {REPLAY_MAX} per request, "
                            "narrow the range or use `ils events replay`"}],
        )  # fmt: skip
    done = await replay(session, subscriber, which)
    return ReplayOut(**done.__dict__)
