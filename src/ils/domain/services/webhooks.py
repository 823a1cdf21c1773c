"""Webhook endpoints: add, change, remove, rotate the signing secret (the previous one keeps
signing for an overlap), enable again after an automatic disabling, test-send, list the delivery
log and retry a delivery by hand.

A URL must be https (plain http only to an allow-listed address) and may not name a refused
address (:mod:`ils.jobs.webhooks.guard`; names are resolved and checked again at each delivery);
event types must be of the catalogue. A bad one is an :class:`~ils.errors.Invalid` naming the
field. Deliveries are enqueued through the caller's transaction (the outbox).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import WebhookDelivery, WebhookEndpoint
from ils.domain.models.types import utcnow
from ils.domain.services import Paged, Text200, Window, paged
from ils.errors import Invalid
from ils.events.catalog import EVENT_TYPES
from ils.jobs.webhooks.deliver import deliver_webhook
from ils.jobs.webhooks.event import TEST_EVENT, WebhookEvent, new_event_id
from ils.jobs.webhooks.guard import check_url
from ils.jobs.webhooks.settings import Network
from ils.jobs.webhooks.signing import new_secret
from ils.queue.producer import Enqueued, EnqueueOptions

Url = Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)]
DAY_S = 24 * 3600


def _known_types(value: list[str]) -> list[str]:
    unknown = [t for t in value if t not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r} (GET /api/webhooks/event-types)")
    return list(dict.fromkeys(value))


class EndpointCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url = Field(description="https (http only to an allow-listed on-premise address)")
    event_types: list[str] = Field(min_length=1, max_length=100)
    description: str = Field("", max_length=200, pattern=r"^[^\x00]*$")

    _types = field_validator("event_types")(_known_types)


class EndpointUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    url: Url | None = None
    event_types: list[str] | None = Field(None, min_length=1, max_length=100)
    description: Text200 | None = None
    enabled: bool | None = Field(None, description="false disables it by hand")

    @field_validator("event_types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _known_types(value)


class Rotation(BaseModel):
    model_config = ConfigDict(extra="forbid")

    overlap_s: int = Field(
        DAY_S, ge=0, le=7 * DAY_S, description="how long the previous secret keeps signing"
    )


def _url(url: str, allow: Sequence[Network]) -> str:
    try:
        return check_url(url, allow)
    except ValueError as exc:
        raise Invalid("url", str(exc)) from exc


async def list_endpoints(
    session: AsyncSession, company_id: int | None, window: Window
) -> Paged[WebhookEndpoint]:
    """``company_id``'s endpoints by id (None: every company's)."""
    query = select(WebhookEndpoint)
    if company_id is not None:
        query = query.where(WebhookEndpoint.company_id == company_id)
    return await paged(session, query.order_by(WebhookEndpoint.id), window)


async def create_endpoint(
    session: AsyncSession, data: EndpointCreate, company_id: int, allow: Sequence[Network]
) -> WebhookEndpoint:
    row = WebhookEndpoint(
        company_id=company_id, url=_url(data.url, allow), event_types=data.event_types,
        description=data.description, secret=new_secret(), enabled=True, failure_streak=0,
        disabled_count=0,
    )  # fmt: skip
    session.add(row)
    await session.flush()
    return row


async def update_endpoint(
    session: AsyncSession, row: WebhookEndpoint, data: EndpointUpdate, allow: Sequence[Network]
) -> WebhookEndpoint:
    if data.url is not None:
        row.url = _url(data.url, allow)
    if data.event_types is not None:
        row.event_types = data.event_types
    if data.description is not None:
        row.description = data.description
    if data.enabled is True:
        enable(row)
    elif data.enabled is False and row.enabled:
        row.enabled, row.disabled_at, row.disabled_reason = False, utcnow(), "disabled by hand"
    row.updated_at = utcnow()
    await session.flush()
    return row


def enable(row: WebhookEndpoint) -> WebhookEndpoint:
    """Enabled again, its failure streak forgotten."""
    row.enabled, row.disabled_at, row.disabled_reason = True, None, None
    row.failure_streak = 0
    row.updated_at = utcnow()
    return row


def rotate_secret(row: WebhookEndpoint, overlap_s: int, now: dt.datetime | None = None) -> None:
    """A new secret; the current one keeps signing beside it for ``overlap_s`` seconds."""
    now = now or utcnow()
    row.previous_secret = row.secret if overlap_s else None
    row.previous_secret_expires_at = now + dt.timedelta(seconds=overlap_s) if overlap_s else None
    row.secret = new_secret()
    row.updated_at = now


async def test_send(
    session: AsyncSession, row: WebhookEndpoint, actor: int
) -> tuple[str, Enqueued]:
    """A ``webhook.test`` event to ``row`` (enabled or not): its event id and job."""
    event = WebhookEvent(
        id=new_event_id(), type=TEST_EVENT, company_id=row.company_id, occurred_at=utcnow(),
        actor={"type": "user", "id": actor}, subject_type="webhook_endpoint",
        subject_id=str(row.id), data={"message": "a test delivery from ILS"},
    )  # fmt: skip
    sent = await deliver_webhook.send(
        {"endpoint_id": row.id, "event": event, "test": True}, company_id=row.company_id,
        options=EnqueueOptions(job_id=f"w{event.id}-{row.id}"), session=session,
    )  # fmt: skip
    return event.id, sent


async def list_deliveries(
    session: AsyncSession, endpoint_id: int, window: Window
) -> Paged[WebhookDelivery]:
    """The endpoint's delivery attempts, newest first."""
    query = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint_id)
    order = (WebhookDelivery.at.desc(), WebhookDelivery.id.desc())
    return await paged(session, query.order_by(*order), window)


async def retry_delivery(session: AsyncSession, row: WebhookDelivery) -> Enqueued:
    """The delivery's event sent again to its endpoint, as a new job (the same ``webhook-id``:
    a receiver that saw it drops it). Its job id counts the event's earlier manual retries, so
    one click enqueues one job."""
    endpoint = await session.get(WebhookEndpoint, row.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        raise Invalid("endpoint", "the endpoint is disabled: enable it first")
    retries = await session.scalar(
        select(func.count(func.distinct(WebhookDelivery.job_id))).where(
            WebhookDelivery.endpoint_id == row.endpoint_id,
            WebhookDelivery.event_id == row.event_id,
        )
    )
    event = WebhookEvent.model_validate(row.envelope)
    return await deliver_webhook.send(
        {"endpoint_id": row.endpoint_id, "event": event}, company_id=row.company_id,
        options=EnqueueOptions(job_id=f"wr{row.id}-{retries}"),
        session=session,
    )  # fmt: skip
