"""What a webhook delivery writes: its attempt's row (once per job id and attempt), and the
endpoint's failure streak, which disables the endpoint after too many events failed for good in
a row and tells the company's admins once (a fan-out notification, enqueued in the same
transaction, its job id derived from the endpoint and its disabling count).

Imported by the handler when it runs (SQLAlchemy), never by the declaration.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.db import Database
from ils.domain.models import WebhookDelivery, WebhookEndpoint
from ils.jobs.webhooks.event import WebhookEvent
from ils.jobs.webhooks.sender import Sent
from ils.queue.producer import EnqueueOptions, Producer

WEBHOOKS_URL = "/admin/webhooks"


@dataclass(frozen=True)
class Attempt:
    """Which attempt of which job delivered what to which endpoint."""

    job_id: str
    attempt: int
    max_attempts: int
    endpoint: WebhookEndpoint
    event: WebhookEvent


def disabled_notice_id(endpoint_id: int, count: int) -> str:
    return f"webhook-{endpoint_id}-off-{count}"


def row_values(attempt: Attempt, sent: Sent) -> dict[str, Any]:
    """The columns of ``attempt``'s delivery row, ``sent`` its outcome."""
    endpoint, event = attempt.endpoint, attempt.event
    return {
        "company_id": endpoint.company_id, "endpoint_id": endpoint.id, "event_id": event.id,
        "event_type": event.type, "job_id": attempt.job_id, "attempt": attempt.attempt,
        "max_attempts": attempt.max_attempts, "envelope": event.model_dump(mode="json"),
        "status_code": sent.status_code, "latency_ms": sent.latency_ms,
        "response_excerpt": sent.excerpt, "error": sent.error, "ok": sent.ok,
    }  # fmt: skip


async def reset_streaks(session: AsyncSession, endpoint_ids: Collection[int]) -> None:
    """The failure streak of these endpoints back to 0 after a success. Only an endpoint with a
    streak is written (and locked): deliveries that succeed, the usual case, never wait for one
    another on the endpoint's row."""
    c = WebhookEndpoint
    await session.execute(
        update(c).where(c.id.in_(endpoint_ids), c.failure_streak > 0).values(failure_streak=0)
    )


async def record(
    db: Database, producer: Producer, attempt: Attempt, sent: Sent, final: bool,
    disable_after: int | None,
) -> bool:  # fmt: skip
    """Store ``attempt``'s row; on a success reset the endpoint's streak, on the last failed
    attempt (``final``) lengthen it, disabling the endpoint at ``disable_after``. False when this
    attempt was recorded before (a re-run of the same attempt): then nothing else changes.
    ``disable_after`` None (a test-send) leaves the streak alone."""
    endpoint = attempt.endpoint
    row = WebhookDelivery(**row_values(attempt, sent))
    try:
        async with db.session() as session:
            if await _recorded(session, attempt):
                return False
            session.add(row)
            await session.flush()
            if disable_after is not None and (sent.ok or final):
                await _streak(session, producer, endpoint.id, sent.ok, disable_after)
    except IntegrityError:
        return False  # the same attempt, recorded at the same moment by a redelivery
    return True


async def _recorded(session: AsyncSession, attempt: Attempt) -> bool:
    found = await session.scalar(
        select(WebhookDelivery.id).where(
            WebhookDelivery.job_id == attempt.job_id, WebhookDelivery.attempt == attempt.attempt
        )
    )
    return found is not None


async def _streak(
    session: AsyncSession, producer: Producer, endpoint_id: int, ok: bool, disable_after: int
) -> None:
    if ok:
        await reset_streaks(session, [endpoint_id])
        return
    # FOR NO KEY UPDATE, not FOR UPDATE: the delivery row just inserted holds a key-share lock on
    # the endpoint (its foreign key), as every concurrent delivery's does; FOR UPDATE conflicts
    # with those, so two transactions upgrading at once deadlocked (PostgreSQL).
    endpoint = await session.get(WebhookEndpoint, endpoint_id, with_for_update={"key_share": True})
    if endpoint is None:
        return
    endpoint.failure_streak += 1
    if endpoint.enabled and endpoint.failure_streak >= disable_after:
        now = dt.datetime.now(dt.UTC)
        endpoint.enabled = False
        endpoint.disabled_at = now
        endpoint.disabled_count += 1
        endpoint.disabled_reason = f"{endpoint.failure_streak} events in a row failed for good"
        await _notify_admins(session, producer, endpoint)
    endpoint.updated_at = dt.datetime.now(dt.UTC)


async def _notify_admins(
    session: AsyncSession, producer: Producer, endpoint: WebhookEndpoint
) -> None:
    from ils.jobs.notification.handlers import fan_out

    send = fan_out.helper.preset(audience="admins").using(
        session=session, producer=producer, company_id=endpoint.company_id,
        options=EnqueueOptions(job_id=disabled_notice_id(endpoint.id, endpoint.disabled_count)),
    )  # fmt: skip
    await send(
        company_id=endpoint.company_id,
        title="A webhook endpoint was disabled",
        message=(
            f"Webhook endpoint {endpoint.id} ({endpoint.url}) was disabled: "
            f"{endpoint.disabled_reason}. Fix the receiver, then enable it again."
        ),
        priority="high",
        action_url=WEBHOOKS_URL,
    )
