"""What a webhook carries: the event envelope (the domain event log's shape: id, type, version,
company, occurred-at, actor, subject, data) as a job payload, the exact body bytes sent, and the
event types an endpoint may subscribe to.

The body is the envelope's JSON with sorted keys and no spaces, so every attempt and every replay
of an event sends the same bytes under the same ``webhook-id`` (the event id).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import time
from typing import Any

from pydantic import Field

from ils.queue.registry import Payload

#: The test-send's event type (``POST /api/webhooks/endpoints/{id}/test``): every endpoint gets
#: it, whatever it subscribes to.
TEST_EVENT = "webhook.test"
#: The event types of the domain event log (issue 19's catalogue) an endpoint may subscribe to.
EVENT_TYPES: tuple[str, ...] = (
    "order.created", "order.updated", "order.status_changed", "order.shipped",
    "order.delivered", "order.cancelled", "invoice.issued", "invoice.paid",
    "payment.succeeded", "payment.failed", "product.price_changed", "product.low_stock",
    "product.out_of_stock", "user.created", "user.role_changed", "user.logged_in",
    "user.login_failed", "company.created", "marketplace.connection.requested",
    "marketplace.connection.accepted", "marketplace.connection.rejected",
    "ai.anomaly_detected", "document.generated", "oma.file_processed", "job.dead_lettered",
)  # fmt: skip

_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_event_id(now_ms: int | None = None) -> str:
    """A ULID (48 bits of milliseconds, 80 random bits, Crockford base32): ordered by time."""
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    value = (ms << 80) | int.from_bytes(os.urandom(10), "big")
    return "".join(_CROCKFORD[(value >> (5 * i)) & 31] for i in reversed(range(26)))


class WebhookEvent(Payload):
    """One domain event as webhooks send it (the event log's envelope, field for field)."""

    id: str = Field(
        min_length=1, max_length=28, pattern=r"^[0-9A-Za-z_-]+$",
        description="the event id (a ULID): the webhook-id header",
    )
    type: str = Field(min_length=1, max_length=100)
    version: int = Field(1, ge=1)
    company_id: int = Field(gt=0)
    occurred_at: dt.datetime
    actor: Any = None
    subject_type: str | None = Field(None, max_length=100)
    subject_id: str | None = Field(None, max_length=100)
    data: dict[str, Any] = Field(default_factory=dict)

    def body(self) -> bytes:
        """The request body: the envelope's JSON (snake_case names), the same bytes each time."""
        doc = self.model_dump(mode="json", by_alias=False)
        return json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def envelope_of(event: Any) -> WebhookEvent:
    """A :class:`WebhookEvent` from any envelope-shaped object (a pydantic model or a dict)."""
    if isinstance(event, WebhookEvent):
        return event
    data = event.model_dump(mode="json") if hasattr(event, "model_dump") else dict(event)
    fields = WebhookEvent.model_fields
    return WebhookEvent.model_validate({k: v for k, v in data.items() if k in fields})
