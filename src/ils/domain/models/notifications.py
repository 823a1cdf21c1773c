"""In-app notifications for a user of a company. A notification written by a job carries the
job's id, unique, so a retried job never stores the same notification twice."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import NotificationType, Priority
from ils.domain.models.columns import str_enum
from ils.domain.models.shared import CompanyOwned, owner_key
from ils.domain.models.types import UtcDateTime, utcnow


class Notification(CompanyOwned, Base):
    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_unread", "user_id", "read_at"),
        Index("ix_notifications_company_created", "company_id", "created_at"),
    )

    user_id: Mapped[int] = owner_key("users")
    type: Mapped[NotificationType] = mapped_column(str_enum(NotificationType))
    title: Mapped[str] = mapped_column(String(200))
    message: Mapped[str] = mapped_column(Text)
    priority: Mapped[Priority] = mapped_column(str_enum(Priority, 10), default=Priority.medium)
    action_url: Mapped[str | None] = mapped_column(String(500))
    job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    read_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
