"""What the AI jobs keep: chat conversations with their messages, and the results of analyses
(daily briefings, demand forecasts, anomalies, insights), each keyed by the job that made it."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, Date, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import AiResultKind, MessageRole
from ils.domain.models.columns import str_enum
from ils.domain.models.shared import CompanyOwned, owned_children, owner, owner_key
from ils.domain.models.types import UtcDateTime, utcnow


class AiConversation(CompanyOwned, Base):
    __tablename__ = "ai_conversations"

    user_id: Mapped[int] = owner_key("users")
    title: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    messages: Mapped[list[AiMessage]] = owned_children(
        "conversation", "AiMessage.id", "raise_on_sql"
    )


class AiMessage(Base):
    """One turn of a conversation. An assistant's answer carries the id of the job that wrote it."""

    __tablename__ = "ai_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = owner_key("ai_conversations")
    role: Mapped[MessageRole] = mapped_column(str_enum(MessageRole, 10))
    content: Mapped[str] = mapped_column(Text)
    job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    conversation: Mapped[AiConversation] = owner("messages")


class AiResult(CompanyOwned, Base):
    __tablename__ = "ai_results"
    __table_args__ = (Index("ix_ai_results_company_kind_date", "company_id", "kind", "for_date"),)

    kind: Mapped[AiResultKind] = mapped_column(str_enum(AiResultKind))
    job_id: Mapped[str | None] = mapped_column(String(64), unique=True)
    for_date: Mapped[dt.date | None] = mapped_column(Date)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
