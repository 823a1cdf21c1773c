"""The ``deliver-webhook`` job type: one event to one endpoint, signed, through the SSRF guard,
one delivery row per attempt, retried with exponential backoff over about a day.

On the ``notification`` queue: like a notification it is small, I/O bound, many at once
(concurrency 10, 200 a minute by default, its own setting), and spooled to the outbox while Redis
is down, never run inline in a web request. The retry schedule: 15 attempts, the jittered
exponential backoff from 30 s, each delay capped at 6 h, about a day in all
(:data:`RETRY_SPAN_S`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from ils.errors import GiveUp
from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.jobs.webhooks.event import WebhookEvent
from ils.queue.backoff import MAX_DELAY_MS
from ils.queue.declare import job
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from ils.jobs.webhooks.sender import Sent

ATTEMPTS = 15
BACKOFF_MS = 30_000
#: The longest the retries of one delivery span (every delay at its ceiling): ~34 h; the
#: jittered delays lie between half and all of it, ~26 h on average.
RETRY_SPAN_S = sum(min(MAX_DELAY_MS, BACKOFF_MS * 2**i) for i in range(ATTEMPTS - 1)) / 1000


class DeliverWebhook(Payload):
    endpoint_id: Id
    event: WebhookEvent = Field(description="the event envelope sent as the body")
    test: bool = Field(
        False, description="a test-send: goes to a disabled endpoint too, counts in no streak"
    )


class DeliveryFailed(Exception):
    """This attempt failed (a status outside 2xx, a timeout, a connection error): retried."""


def delivery_job_id(event_id: str, endpoint_id: int) -> str:
    """The job id of an event's delivery to an endpoint: one delivery per pair (dedup)."""
    return f"w{event_id}-{endpoint_id}"


@job(DeliverWebhook, queue="notification", name="deliver-webhook",
     description="one event to one webhook endpoint, signed (Standard Webhooks)",
     priority=3, attempts=ATTEMPTS, backoff_delay_ms=BACKOFF_MS,
     resources=("db", "webhooks", "producer"))  # fmt: skip
async def deliver_webhook(payload: DeliverWebhook, ctx: Ctx) -> Any:
    """Send, record the attempt, then succeed, retry, or (refused by the guard, or attempts
    spent) fail, counting the event in the endpoint's failure streak."""
    import asyncio
    import datetime as dt

    from ils.jobs.webhooks.ledger import ledger_for
    from ils.jobs.webhooks.record import Attempt

    sender = ctx.resources.webhooks
    # The endpoint read and the attempt's row are shared with the deliveries running meanwhile
    # (one query, one transaction for them all): see ils.jobs.webhooks.ledger.
    ledger = ledger_for(ctx.resources.db)
    endpoint, succeeded = await asyncio.gather(
        ledger.endpoint(payload.endpoint_id), ledger.succeeded(ctx.job_id)
    )
    if succeeded:  # the same delivery job again (see ils.jobs.webhooks.ledger): sent once
        return {"skipped": f"delivery {ctx.job_id} already succeeded"}
    if endpoint.company_id != payload.event.company_id:
        raise GiveUp(f"event {payload.event.id} is not of endpoint {endpoint.id}'s company")
    if not (endpoint.enabled or payload.test):
        return {"skipped": f"endpoint {endpoint.id} is disabled"}
    event = payload.event
    secrets = endpoint.signing_secrets(dt.datetime.now(dt.UTC))
    sent: Sent = await sender.send(endpoint.url, event.id, event.body(), secrets)
    final = sent.refused or (not sent.ok and ctx.is_last_attempt)
    attempt = Attempt(ctx.job_id, ctx.attempt, ctx.max_attempts, endpoint, event)
    # A test-send counts in no streak: it neither disables nor re-arms the endpoint.
    disable_after = None if payload.test else sender.settings.disable_after
    await ledger.record(ctx.resources.producer, attempt, sent, final, disable_after)
    if sent.ok:
        return {"status": sent.status_code, "latencyMs": sent.latency_ms}
    if sent.refused:
        raise GiveUp(sent.error or "refused")
    raise DeliveryFailed(sent.error or "failed")
