"""What a webhook carries: the event envelope (the domain event log's shape: id, type, version,
company, occurred-at, actor, subject, data) as a job payload, and the exact body bytes sent. The
event types an endpoint may subscribe to are the catalog's (:data:`ils.events.catalog.EVENT_TYPES`),
not imported here: the worker that delivers webhooks validates no event's data.

The body is the envelope's JSON with sorted keys and no spaces, so every attempt and every replay
of an event sends the same bytes under the same ``webhook-id`` (the event id).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from pydantic import Field

from ils.queue.registry import Payload

__all__ = ["TEST_EVENT", "WebhookEvent", "envelope_of", "new_event_id"]

#: The test-send's event type (``POST /api/webhooks/endpoints/{id}/test``): every endpoint gets
#: it, whatever it subscribes to.
TEST_EVENT = "webhook.test"


def new_event_id(at: dt.datetime | None = None) -> str:
    """A new event id (:func:`ils.events.envelope.new_event_id`, whose module and ULID are
    loaded by the first call: a worker that delivers webhooks makes no event)."""
    from ils.events.envelope import new_event_id as make

    return make(at)


class WebhookEvent(Payload):
    """One domain event as webhooks send it (the event log's envelope, field for field)."""

    id: str = Field(
        min_length=1,
        max_length=28,
        pattern=r"^[0-9A-Za-z_-]+$",
        description="the event id (a ULID): the webhook-id header",
        examples=["01JB2K3M4N5P6Q7R8S9T0V1W2X"],
    )
    type: str = Field(min_length=1, max_length=100, examples=["order.shipped"])
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
