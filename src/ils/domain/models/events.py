"""The event log's tables: ``events``, append-only (rows are added with the change they describe
and only retention deletes them), and ``event_cursors``, how far each subscriber has read.

An event's id is a ULID (:func:`ils.events.envelope.new_event_id`), so ordering by id orders by
time; the API pages by it and the dispatcher keeps each subscriber's position as one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.models.types import UtcDateTime, utcnow
from ils.events.envelope import Actor, EventEnvelope

EVENT_ID_LENGTH = 26


class Event(Base):
    """One domain event: what happened (type and version), to what (subject), in which company,
    caused by whom (a user or the system, with the job when one ran), when, and its data."""

    __tablename__ = "events"

    id: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), primary_key=True)
    type: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    # No foreign keys: the log outlives the rows it speaks of. None: a platform event.
    company_id: Mapped[int | None] = mapped_column(Integer)
    actor_kind: Mapped[str] = mapped_column(String(16))
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_job_id: Mapped[str | None] = mapped_column(String(200))
    subject_type: Mapped[str] = mapped_column(String(40))
    subject_id: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime())
    data: Mapped[dict[str, Any]] = mapped_column(JSON)

    __table_args__ = (
        Index("ix_events_company", "company_id", "id"),
        Index("ix_events_subject", "subject_type", "subject_id", "id"),
        Index("ix_events_type", "type", "id"),
        Index("ix_events_actor", "actor_user_id", "id"),
        Index("ix_events_occurred", "occurred_at"),
    )

    @property
    def actor(self) -> Actor:
        if self.actor_kind == "user" and self.actor_user_id is not None:
            return Actor.user(self.actor_user_id, self.actor_job_id)
        return Actor(kind="system", user_id=self.actor_user_id, job_id=self.actor_job_id)

    def envelope(self) -> EventEnvelope:
        """The event as subscribers receive it: its columns (and :attr:`actor`) of the same
        names as the envelope's fields."""
        return EventEnvelope.model_validate(self, from_attributes=True)


class EventCursor(Base):
    """One subscriber's place in the log: the id of the last event it handled, and its lease
    (the dispatcher holding it until ``leased_until``; two never deliver to one subscriber at
    once)."""

    __tablename__ = "event_cursors"

    subscriber: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[str] = mapped_column(String(EVENT_ID_LENGTH), default="")
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    delivered: Mapped[int] = mapped_column(Integer, default=0)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    leased_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
