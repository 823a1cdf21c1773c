"""What a domain event looks like outside the database: the actor who caused it, its subject, and
the envelope subscribers, webhooks and the API receive.

Pydantic only (no SQLAlchemy), so a worker's subscribers and the docs generator load it lightly.
An event's id is a ULID: unique, and ordered by the time it was recorded.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from ulid import ULID


def new_event_id(at: dt.datetime | None = None) -> str:
    """A new event id: a ULID as its 26 characters, ordered by ``at`` (default: now)."""
    return str(ULID.from_datetime(at) if at is not None else ULID())


def id_floor(at: dt.datetime) -> str:
    """The smallest event id of the millisecond ``at``: every event recorded at or after ``at``
    has an id ``>=`` it (a time bound on the log, read by id)."""
    ms = int(at.timestamp() * 1000)
    return str(ULID.from_bytes(ms.to_bytes(6, "big") + bytes(10)))


class Actor(BaseModel):
    """Who caused an event: a user, or the system (a job, when one was running)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: Literal["user", "system"]
    user_id: int | None = None
    job_id: str | None = Field(None, max_length=200)

    @classmethod
    def user(cls, user_id: int, job_id: str | None = None) -> Actor:
        return cls(kind="user", user_id=user_id, job_id=job_id)

    @classmethod
    def system(cls, job_id: str | None = None) -> Actor:
        return cls(kind="system", job_id=job_id)


class Subject(BaseModel):
    """What an event is about: an entity's type and id (``order`` 42)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: str = Field(max_length=40)
    id: str = Field(max_length=64)

    @classmethod
    def of(cls, kind: str, ident: int | str) -> Subject:
        return cls(type=kind, id=str(ident))


class EventEnvelope(BaseModel):
    """One recorded event as subscribers and webhooks receive it; ``id`` is stable, so a receiver
    that has seen it (a redelivery, a replay) can drop it."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    version: int
    company_id: int | None
    occurred_at: dt.datetime
    actor: Actor
    subject_type: str
    subject_id: str
    data: dict[str, Any]
