"""Outgoing webhooks: a company's endpoints (URL, event types, signing secrets with a rotation
overlap, enabled or disabled with the reason, the streak of events that failed for good) and the
log of every delivery attempt.

Secrets are kept in the Standard Webhooks ``whsec_<base64>`` form; during a rotation's overlap
the previous secret signs too, until ``previous_secret_expires_at``. A delivery row is unique by
job id and attempt, so a retried handler records each attempt once.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.models.shared import CompanyOwned
from ils.domain.models.types import UtcDateTime, utcnow


class WebhookEndpoint(CompanyOwned, Base):
    __tablename__ = "webhook_endpoints"

    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str] = mapped_column(String(200), default="")
    event_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    secret: Mapped[str] = mapped_column(String(100))
    previous_secret: Mapped[str | None] = mapped_column(String(100))
    previous_secret_expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    enabled: Mapped[bool] = mapped_column(default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(500))
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime())
    # Events in a row whose delivery failed for good (every attempt spent); a success resets it.
    failure_streak: Mapped[int] = mapped_column(default=0)
    # Bumped at each automatic disabling: the admins' notice is keyed by it (sent once each).
    disabled_count: Mapped[int] = mapped_column(default=0)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)

    def signing_secrets(self, now: dt.datetime) -> list[str]:
        """The secrets that sign a delivery made at ``now``: the current one, and the previous
        one while the rotation's overlap lasts."""
        secrets = [self.secret]
        expires = self.previous_secret_expires_at
        if self.previous_secret and expires is not None and now < expires:
            secrets.append(self.previous_secret)
        return secrets


class WebhookDelivery(CompanyOwned, Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("job_id", "attempt", name="uq_webhook_deliveries_attempt"),
        Index("ix_webhook_deliveries_endpoint_at", "endpoint_id", "at"),
    )

    endpoint_id: Mapped[int] = mapped_column(ForeignKey("webhook_endpoints.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64), index=True)
    event_type: Mapped[str] = mapped_column(String(100))
    job_id: Mapped[str] = mapped_column(String(200))
    attempt: Mapped[int] = mapped_column()
    max_attempts: Mapped[int] = mapped_column()
    # The event envelope as sent, so a delivery can be retried by hand later.
    envelope: Mapped[dict[str, Any]] = mapped_column(JSON)
    status_code: Mapped[int | None] = mapped_column()
    latency_ms: Mapped[int | None] = mapped_column()
    response_excerpt: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    ok: Mapped[bool] = mapped_column(default=False)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
