"""The webhook subscriber's work for one event: one ``deliver-webhook`` job per enabled endpoint of
the event's company subscribed to its type, enqueued through the caller's transaction (the
outbox). The job id is derived from the event id and the endpoint id, so the same event handed
over twice (a redelivery, a replay racing the first run) is delivered once per endpoint.

``known`` lets a caller handing over many events in one transaction (the dispatcher's batch) read
each company's endpoints once: the enabled endpoints by company, filled as events come.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ils.jobs.webhooks.deliver import deliver_webhook, delivery_job_id
from ils.jobs.webhooks.event import WebhookEvent, envelope_of
from ils.queue.producer import EnqueueOptions

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.models import WebhookEndpoint
    from ils.queue.producer import Enqueued

#: The enabled endpoints of each company read so far in one transaction (see ``known``).
Known = dict[int, list["WebhookEndpoint"]]


def subscribed(endpoint: WebhookEndpoint, event_type: str) -> bool:
    return endpoint.enabled and event_type in (endpoint.event_types or [])


async def endpoints_for(
    session: AsyncSession, event: WebhookEvent, known: Known | None = None
) -> list[WebhookEndpoint]:
    """The enabled endpoints of the event's company subscribed to its type, by id (the
    company's read once per ``known``, when given)."""
    from sqlalchemy import select

    from ils.domain.models import WebhookEndpoint

    enabled = None if known is None else known.get(event.company_id)
    if enabled is None:
        enabled = list(
            await session.scalars(
                select(WebhookEndpoint)
                .where(WebhookEndpoint.company_id == event.company_id, WebhookEndpoint.enabled)
                .order_by(WebhookEndpoint.id)
            )
        )
        if known is not None:
            known[event.company_id] = enabled
    return [row for row in enabled if subscribed(row, event.type)]


async def enqueue_deliveries(
    session: AsyncSession,
    event: Any,
    endpoint_id: int | None = None,
    *,
    replay: bool = False,
    known: Known | None = None,
) -> list[Enqueued]:
    """Enqueue ``event``'s deliveries (any envelope-shaped object) in ``session``'s transaction;
    with ``endpoint_id``, to that endpoint alone, if it is subscribed. A ``replay`` delivers
    again: a job of its own (the first delivery's id would add nothing while BullMQ keeps it),
    under the same ``webhook-id``, the event id, by which the receiver drops what it has."""
    envelope = envelope_of(event)
    found = await endpoints_for(session, envelope, known)
    if endpoint_id is not None:
        found = [row for row in found if row.id == endpoint_id]
    sent = []
    for endpoint in found:
        job_id = None if replay else delivery_job_id(envelope.id, endpoint.id)
        options = EnqueueOptions(job_id=job_id)
        sent.append(
            await deliver_webhook.send(
                {"endpoint_id": endpoint.id, "event": envelope},
                company_id=envelope.company_id,
                options=options,
                session=session,
            )
        )
    return sent
