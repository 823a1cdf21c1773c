"""Schedules: named, persisted recurring jobs (a cron pattern in a time zone, or every N seconds)
of one company or of the whole platform, with what to do about a run missed (started late).

The rows are the truth; Redis holds one BullMQ job scheduler per enabled row, made equal to them
by :mod:`ils.jobs.scheduled.reconcile`.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Collection
from typing import Any

from sqlalchemy import JSON, CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import SCHEDULER_PREFIX
from ils.domain.models.columns import str_enum
from ils.domain.models.types import UtcDateTime, utcnow
from ils.queue.recurrence import Recurrence


class MissedRun(enum.StrEnum):
    """A run that starts more than five minutes after it fell due (no process worked the
    scheduled queue, or no worker of it was free): run it, once, or skip to the next
    (:mod:`ils.jobs.scheduled.runs`)."""

    run_once = "run_once"
    skip = "skip"


class Schedule(Base):
    __tablename__ = "schedules"
    __table_args__ = (
        UniqueConstraint("company_id", "name"),
        CheckConstraint("(cron IS NULL) <> (every_s IS NULL)", name="one_recurrence"),
        CheckConstraint("every_s IS NULL OR every_s > 0", name="every_s_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # None: the platform's own (retention); a company's go with the company.
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    job_type: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    cron: Mapped[str | None] = mapped_column(String(120))
    every_s: Mapped[int | None] = mapped_column()
    # None: the company's time zone (UTC for the platform's schedules).
    timezone: Mapped[str | None] = mapped_column(String(64))
    enabled: Mapped[bool] = mapped_column(default=True)
    missed_run: Mapped[MissedRun] = mapped_column(
        str_enum(MissedRun, 10), default=MissedRun.run_once
    )
    last_run_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    last_job_id: Mapped[str | None] = mapped_column(String(120))
    next_run_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    @property
    def scheduler_id(self) -> str:
        """Its BullMQ job scheduler's id."""
        return scheduler_id(self.id)


#: A trading company's schedules, made with it: (name, job type of the scheduled queue, cron in
#: the company's time zone).
DEFAULT_SCHEDULES = (
    ("nightly anomaly scan", "nightly-anomaly-scan", "0 3 * * *"),
    ("weekly demand forecast", "weekly-demand-forecast", "0 5 * * 1"),
    ("daily briefing", "daily-briefing", "0 8 * * *"),
    ("failed jobs digest", "failed-jobs-digest", "0 7 * * *"),
)
#: The platform's own, made by migration 0007: (name, job type, cron in UTC, missed-run policy).
PLATFORM_SCHEDULES = (
    ("retention", "retention", "0 * * * *", "run_once"),
    ("schedules sync", "sync-schedules", "30 * * * *", "skip"),
)


def scheduler_id(schedule_id: int) -> str:
    return f"{SCHEDULER_PREFIX}{schedule_id}"


def recurrence_of(row: Schedule, company_timezone: str | None) -> Recurrence:
    """When ``row`` fires: its cron in its own zone, else its company's, else UTC; or its
    interval."""
    tz = row.timezone or company_timezone or "UTC"
    if row.cron is not None:
        return Recurrence(pattern=row.cron, tz=tz)
    return Recurrence(every_ms=(row.every_s or 0) * 1000, tz=tz)


def job_data(row: Schedule, fields: Collection[str]) -> dict[str, Any]:
    """The data of ``row``'s jobs: its payload, with its company's id where the job type's
    payload has a ``company_id`` field (``fields``)."""
    data = dict(row.payload or {})
    if row.company_id is not None and "company_id" in fields:
        data.pop("companyId", None)
        data["company_id"] = row.company_id
    return data
