"""The email log: one row per email job, keyed by the job's id, saying what was sent to whom.

A retried or redelivered job finds its row marked ``sent`` and sends nothing again (guard 8).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import EmailStatus
from ils.domain.models.columns import str_enum
from ils.domain.models.types import UtcDateTime, utcnow


class EmailLog(Base):
    __tablename__ = "email_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    company_id: Mapped[int | None] = mapped_column(
        ForeignKey("companies.id", ondelete="SET NULL"), index=True
    )
    to: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(String(300))
    template: Mapped[str] = mapped_column(String(60))
    message_id: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[EmailStatus] = mapped_column(str_enum(EmailStatus, 10))
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
