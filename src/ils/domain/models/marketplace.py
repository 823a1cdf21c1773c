"""Marketplace connections between companies (a practice and a lab, say): who asked whom,
with what message, and whether the other side accepted."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, ForeignKey, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import ConnectionStatus
from ils.domain.models.columns import str_enum
from ils.domain.models.types import UtcDateTime, utcnow


class MarketplaceConnection(Base):
    """One request from ``requester`` to ``target``; at most one per ordered pair."""

    __tablename__ = "marketplace_connections"
    __table_args__ = (
        UniqueConstraint(
            "requester_company_id", "target_company_id", name="uq_marketplace_connections_pair"
        ),
        CheckConstraint("requester_company_id <> target_company_id", name="not_self"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    requester_company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    target_company_id: Mapped[int] = mapped_column(ForeignKey("companies.id"), index=True)
    status: Mapped[ConnectionStatus] = mapped_column(
        str_enum(ConnectionStatus), default=ConnectionStatus.requested
    )
    message: Mapped[str | None] = mapped_column(Text)
    requested_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    responded_by_user_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    responded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
