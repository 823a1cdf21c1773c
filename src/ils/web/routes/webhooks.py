"""``/api/webhooks``: a company's outgoing webhook endpoints, for its admins (platform admins:
every company's): list, add, read, change, remove, rotate the secret (``/{id}/rotate-secret``),
test-send (``/{id}/test``), enable again (``/{id}/enable``), the delivery log
(``/{id}/deliveries``) and a delivery retried by hand (``/deliveries/{id}/retry``), and the event
types an endpoint may subscribe to.

Another company's endpoint or delivery answers 404 like a missing one. Bad input (a URL that is
not https outside the allow-list, a refused address, an unknown event type) is a 422 naming the
field; the rules live in :mod:`ils.domain.services.webhooks`. Every change is audited.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field

from ils.domain.models import WebhookDelivery, WebhookEndpoint
from ils.domain.models.accounts import User
from ils.domain.services import Id, QueuedJob, Window
from ils.domain.services import webhooks as service
from ils.domain.services.webhooks import EndpointCreate, EndpointUpdate, Rotation
from ils.errors import Invalid
from ils.events.catalog import EVENT_TYPES
from ils.jobs.webhooks.settings import Network
from ils.web.auth import CurrentUser, DbSession, get_owned, permit, record_audit
from ils.web.auth.ownership import sees_all_companies
from ils.web.quota_deps import BulkQuota
from ils.web.routes.common import Limit, Offset, Page, one_row

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"])
MANAGE = permit("webhooks.manage")
EndpointId = Id
DeliveryId = Id


class EndpointOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    company_id: int
    url: str
    description: str
    event_types: list[str]
    secret: str = Field(description="the signing secret (whsec_...): give it to the receiver")
    previous_secret_expires_at: dt.datetime | None = Field(
        description="until then the previous secret signs too (a rotation's overlap)"
    )
    enabled: bool
    disabled_reason: str | None
    disabled_at: dt.datetime | None
    failure_streak: int = Field(description="events in a row that failed for good")
    created_at: dt.datetime
    updated_at: dt.datetime


class EndpointPage(Page[EndpointOut]):
    pass


class DeliveryOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    endpoint_id: int
    event_id: str = Field(description="the webhook-id header")
    event_type: str
    job_id: str
    attempt: int
    max_attempts: int
    ok: bool
    status_code: int | None
    latency_ms: int | None
    response_excerpt: str | None
    error: str | None
    at: dt.datetime


class DeliveryPage(Page[DeliveryOut]):
    pass


class TestSent(QueuedJob):
    event_id: str = Field(description="the test event's id (its webhook-id)")


def _allow(request: Request) -> Sequence[Network]:
    return request.app.state.system.settings.webhook_settings().allow  # type: ignore[no-any-return]


def _owner(user: User, asked: int | None) -> int:
    if asked is None or asked == user.company_id:
        return user.company_id
    if not sees_all_companies(user):
        raise Invalid("company_id", "you may add endpoints for your own company only")
    return asked


async def _audit(
    request: Request, session: DbSession, user: User, action: str, row: WebhookEndpoint
) -> None:
    detail = {"url": row.url, "company_id": row.company_id}
    await record_audit(session, user, f"webhooks.{action}", "webhook_endpoint", row.id, detail,
                       request)  # fmt: skip


class NewEndpoint(EndpointCreate):
    company_id: Id | None = Field(None, description="platform admins: another company's")


@router.get("/event-types", dependencies=[MANAGE], summary="Event types an endpoint may take")
async def event_types() -> list[str]:
    return list(EVENT_TYPES)


@router.get("/endpoints", dependencies=[MANAGE], response_model=EndpointPage,
            summary="Webhook endpoints")  # fmt: skip
async def list_endpoints(
    user: CurrentUser, session: DbSession, limit: Limit = 50, offset: Offset = 0,
    company_id: Annotated[Id | None, Query(description="platform admins: one company's")] = None,
) -> EndpointPage:  # fmt: skip
    window = Window(limit, offset)
    owner = company_id if sees_all_companies(user) else user.company_id
    found = await service.list_endpoints(session, owner, window)
    return EndpointPage.of(found, window, EndpointOut.model_validate)


@router.post("/endpoints", dependencies=[MANAGE], status_code=201, response_model=EndpointOut,
             summary="Add a webhook endpoint")  # fmt: skip
async def create_endpoint(
    body: NewEndpoint, request: Request, user: CurrentUser, session: DbSession
) -> WebhookEndpoint:
    owner = _owner(user, body.company_id)
    data = EndpointCreate.model_validate(body.model_dump(exclude={"company_id"}))
    row = await service.create_endpoint(session, data, owner, _allow(request))
    await _audit(request, session, user, "created", row)
    return row


@one_row(router, "GET", "/endpoints/{endpoint_id}", MANAGE,
         response_model=EndpointOut, summary="A webhook endpoint")  # fmt: skip
async def get_endpoint(
    endpoint_id: EndpointId, user: CurrentUser, session: DbSession
) -> WebhookEndpoint:
    return await get_owned(session, WebhookEndpoint, endpoint_id, user)


@one_row(router, "PATCH", "/endpoints/{endpoint_id}", MANAGE,
         response_model=EndpointOut, summary="Change a webhook endpoint")  # fmt: skip
async def update_endpoint(
    endpoint_id: EndpointId, body: EndpointUpdate, request: Request, user: CurrentUser,
    session: DbSession,
) -> WebhookEndpoint:  # fmt: skip
    row = await get_owned(session, WebhookEndpoint, endpoint_id, user)
    await service.update_endpoint(session, row, body, _allow(request))
    await _audit(request, session, user, "changed", row)
    return row


@one_row(router, "DELETE", "/endpoints/{endpoint_id}", MANAGE, status_code=204,
         summary="Remove a webhook endpoint")  # fmt: skip
async def delete_endpoint(
    endpoint_id: EndpointId, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    row = await get_owned(session, WebhookEndpoint, endpoint_id, user)
    await _audit(request, session, user, "removed", row)
    await session.delete(row)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@one_row(router, "POST", "/endpoints/{endpoint_id}/rotate-secret", MANAGE,
         response_model=EndpointOut,
         summary="A new signing secret; the old one signs too for the overlap")  # fmt: skip
async def rotate_secret(
    endpoint_id: EndpointId, request: Request, user: CurrentUser, session: DbSession,
    body: Rotation | None = None,
) -> WebhookEndpoint:  # fmt: skip
    row = await get_owned(session, WebhookEndpoint, endpoint_id, user)
    service.rotate_secret(row, (body or Rotation()).overlap_s)
    await _audit(request, session, user, "secret_rotated", row)
    return row


@one_row(router, "POST", "/endpoints/{endpoint_id}/enable", MANAGE,
         response_model=EndpointOut,
         summary="Enable an endpoint again (its failure streak forgotten)")  # fmt: skip
async def enable_endpoint(
    endpoint_id: EndpointId, request: Request, user: CurrentUser, session: DbSession
) -> WebhookEndpoint:
    row = service.enable(await get_owned(session, WebhookEndpoint, endpoint_id, user))
    await _audit(request, session, user, "enabled", row)
    return row


@one_row(router, "POST", "/endpoints/{endpoint_id}/test", MANAGE, status_code=202,
         response_model=TestSent, summary="Send a webhook.test event to the endpoint")  # fmt: skip
async def test_endpoint(
    endpoint_id: EndpointId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    _quota: BulkQuota,
) -> TestSent:
    row = await get_owned(session, WebhookEndpoint, endpoint_id, user)
    event_id, sent = await service.test_send(session, row, user.id)
    await _audit(request, session, user, "test_sent", row)
    return TestSent(event_id=event_id, **QueuedJob.of(sent).model_dump())


@one_row(router, "GET", "/endpoints/{endpoint_id}/deliveries", MANAGE,
         response_model=DeliveryPage,
         summary="The endpoint's delivery attempts, newest first")  # fmt: skip
async def list_deliveries(
    endpoint_id: EndpointId, user: CurrentUser, session: DbSession, limit: Limit = 50,
    offset: Offset = 0,
) -> DeliveryPage:  # fmt: skip
    row = await get_owned(session, WebhookEndpoint, endpoint_id, user)
    window = Window(limit, offset)
    found = await service.list_deliveries(session, row.id, window)
    return DeliveryPage.of(found, window, DeliveryOut.model_validate)


@one_row(router, "POST", "/deliveries/{delivery_id}/retry", MANAGE, status_code=202,
         response_model=QueuedJob,
         summary="Send a delivery's event again (the same webhook-id)")  # fmt: skip
async def retry_delivery(
    delivery_id: DeliveryId,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    _quota: BulkQuota,
) -> QueuedJob:
    row = await get_owned(session, WebhookDelivery, delivery_id, user)
    sent = await service.retry_delivery(session, row)
    detail = {"event_id": row.event_id, "endpoint_id": row.endpoint_id, "job_id": sent.job_id}
    await record_audit(session, user, "webhooks.delivery_retried", "webhook_delivery", row.id,
                       detail, request)  # fmt: skip
    return QueuedJob.of(sent)
