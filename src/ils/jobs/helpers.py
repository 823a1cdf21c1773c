"""Typed helper functions, one per job type: the seed's helpers in snake_case.

Each takes the business arguments, plus keyword-only ``options`` (priority, delay, attempts,
dedup key, job id), ``session`` and ``producer``, and ``company_id`` where the payload has none:
the company the job belongs to, whose admins see it (see :mod:`ils.queue.tenancy`); without it
the job is system work, seen by the platform operator only. With ``session`` (the caller's
SQLAlchemy session, inside its transaction) the job goes through the transactional outbox: it
reaches BullMQ once that transaction commits, and never if it rolls back. Without ``producer``
the one installed for this process by :func:`install_producer` is used (``ils serve`` and
``ils worker`` install theirs).
"""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ils.jobs import payloads as p
from ils.queue.admin import QueueAdmin
from ils.queue.errors import ConfigurationError
from ils.queue.producer import Enqueued, EnqueueOptions, Producer


class _Installed:
    producer: Producer | None = None


_installed = _Installed()


def install_producer(producer: Producer) -> None:
    """Make ``producer`` the one the helpers use when none is passed."""
    _installed.producer = producer


def uninstall_producer(producer: Producer) -> None:
    """Forget ``producer`` if it is the installed one (a closing process calls this)."""
    if _installed.producer is producer:
        _installed.producer = None


def current_producer() -> Producer:
    if _installed.producer is None:
        raise ConfigurationError(
            "no producer installed: pass producer=..., or call "
            "ils.jobs.helpers.install_producer() at start-up"
        )
    return _installed.producer


def batch(
    session: AsyncSession, *, producer: Producer | None = None
) -> contextlib.AbstractAsyncContextManager[None]:
    """Inside ``async with batch(session):`` the helpers called with that ``session`` write
    their outbox rows together, in one statement, when the block ends."""
    return (producer or current_producer()).batch(session)


async def _enqueue(
    queue: str,
    name: str,
    payload: dict[str, Any],
    options: EnqueueOptions | None,
    producer: Producer | None,
    session: AsyncSession | None,
    company_id: int | None = None,
) -> Enqueued:
    return await (producer or current_producer()).enqueue(
        queue, name, payload, options, session=session, company_id=company_id
    )


# ---- email ----------------------------------------------------------------------------------


async def queue_order_confirmation_email(
    order_id: int, user_id: int, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(order_id=order_id, user_id=user_id)
    return await _enqueue(
        "email", "order-confirmation", payload, options, producer, session, company_id
    )


async def queue_shipment_notification_email(
    order_id: int, user_id: int, tracking_number: str, carrier: str | None = None, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(
        order_id=order_id,
        user_id=user_id,
        tracking_number=tracking_number,
        carrier=carrier,
    )
    return await _enqueue(
        "email", "order-shipment", payload, options, producer, session, company_id
    )


async def queue_purchase_order_email(
    purchase_order_id: int, supplier_id: int, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(purchase_order_id=purchase_order_id, supplier_id=supplier_id)
    return await _enqueue(
        "email", "purchase-order", payload, options, producer, session, company_id
    )


async def queue_marketplace_connection_email(
    connection_id: int, target_company_id: int, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(
        connection_id=connection_id,
        target_company_id=target_company_id,
    )
    return await _enqueue(
        "email", "marketplace-connection", payload, options, producer, session, company_id
    )


async def queue_daily_briefing_email(
    company_id: int, user_ids: list[int], date: dt.date, *,
    options: EnqueueOptions | None = None, producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(company_id=company_id, user_ids=user_ids, date=date)
    return await _enqueue("email", "daily-briefing", payload, options, producer, session)


async def queue_generic_email(
    to: list[str], subject: str, text: str, html: str | None = None,
    template: p.GenericLayout = "standard", company_id: int | None = None, *,
    options: EnqueueOptions | None = None, producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(to=to, subject=subject, text=text, html=html, template=template,
                   company_id=company_id)  # fmt: skip
    return await _enqueue("email", "generic", payload, options, producer, session)


# ---- pdf ------------------------------------------------------------------------------------


async def queue_order_sheet_pdf(
    order_id: int,
    *,
    company_id: int | None = None,
    options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:
    return await _enqueue(
        "pdf", "order-sheet", dict(order_id=order_id), options, producer, session, company_id
    )


async def queue_invoice_pdf(
    invoice_id: int,
    *,
    company_id: int | None = None,
    options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:
    return await _enqueue(
        "pdf", "invoice", dict(invoice_id=invoice_id), options, producer, session, company_id
    )


async def queue_receipt_pdf(
    payment_id: int,
    *,
    company_id: int | None = None,
    options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:
    return await _enqueue(
        "pdf", "receipt", dict(payment_id=payment_id), options, producer, session, company_id
    )


async def queue_lab_work_ticket_pdf(
    order_id: int,
    *,
    company_id: int | None = None,
    options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:
    payload = dict(order_id=order_id)
    return await _enqueue("pdf", "lab-work-ticket", payload, options, producer, session, company_id)


async def queue_examination_form_pdf(
    examination_id: int, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(examination_id=examination_id)
    return await _enqueue(
        "pdf", "examination-form", payload, options, producer, session, company_id
    )


# ---- notification ---------------------------------------------------------------------------


def _with_priority(options: EnqueueOptions | None, priority: str) -> EnqueueOptions | None:
    """The options with the job priority the seed mapped from the notification's priority
    (urgent 1, high 2, medium 3, low 4), unless the caller chose one. An unknown priority is
    left for the payload's validation to name."""
    queue_priority = p.QUEUE_PRIORITY.get(priority)
    if queue_priority is None or (options is not None and options.priority is not None):
        return options
    return (options or EnqueueOptions()).model_copy(update={"priority": queue_priority})


async def queue_system_notification(
    user_id: int, title: str, message: str, priority: p.NotificationPriority = "medium",
    action_url: str | None = None, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(
        user_id=user_id,
        title=title,
        message=message,
        priority=priority,
        action_url=action_url,
    )
    options = _with_priority(options, priority)
    return await _enqueue("notification", "system", payload, options, producer, session, company_id)


async def queue_order_notification(
    user_id: int, order_id: int, status: str, message: str | None = None, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(user_id=user_id, order_id=order_id, status=status, message=message)
    return await _enqueue("notification", "order", payload, options, producer, session, company_id)


async def queue_ai_insight_notification(
    user_id: int, title: str, message: str, priority: p.NotificationPriority = "medium",
    insight_id: int | None = None, action_url: str | None = None, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(
        user_id=user_id,
        title=title,
        message=message,
        priority=priority,
        insight_id=insight_id,
        action_url=action_url,
    )
    options = _with_priority(options, priority)
    return await _enqueue(
        "notification", "ai-insight", payload, options, producer, session, company_id
    )


async def queue_marketplace_notification(
    user_id: int, connection_id: int, event: str, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(user_id=user_id, connection_id=connection_id, event=event)
    return await _enqueue(
        "notification", "marketplace", payload, options, producer, session, company_id
    )


async def notify_user(
    user_id: int, title: str, message: str, priority: p.NotificationPriority = "medium",
    action_url: str | None = None, *,
    company_id: int | None = None, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    """One user's notification (a ``system`` one)."""
    return await queue_system_notification(
        user_id, title, message, priority, action_url,
        options=options, producer=producer, session=session, company_id=company_id,
    )  # fmt: skip


async def notify_company_admins(
    company_id: int, title: str, message: str, priority: p.NotificationPriority = "medium",
    action_url: str | None = None, kind: p.NotificationKind = "system", *,
    options: EnqueueOptions | None = None, producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    """A notification for every active admin of the company, found when the job runs."""
    payload = dict(
        company_id=company_id, audience="admins", kind=kind, title=title, message=message,
        priority=priority, action_url=action_url,
    )  # fmt: skip
    options = _with_priority(options, priority)
    return await _enqueue("notification", "fan-out", payload, options, producer, session)


async def notify_company_role(
    company_id: int, role: str, title: str, message: str,
    priority: p.NotificationPriority = "medium", action_url: str | None = None,
    kind: p.NotificationKind = "system", *, options: EnqueueOptions | None = None,
    producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    """A notification for every active user of the company with ``role``, found when the job
    runs (a user who gets the role before then is included)."""
    payload = dict(
        company_id=company_id, audience="role", role=role, kind=kind, title=title,
        message=message, priority=priority, action_url=action_url,
    )  # fmt: skip
    options = _with_priority(options, priority)
    return await _enqueue("notification", "fan-out", payload, options, producer, session)


# ---- ai -------------------------------------------------------------------------------------


async def queue_daily_briefing(
    company_id: int, date: dt.date | None = None, user_ids: list[int] | None = None, *,
    options: EnqueueOptions | None = None, producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    """The briefing of ``date`` (default: today in the company's time zone) about the day
    before, to ``user_ids`` (default: the company's admins)."""
    payload = dict(company_id=company_id, date=date, user_ids=user_ids or [])
    return await _enqueue("ai", "daily-briefing", payload, options, producer, session)


async def queue_demand_forecast(
    company_id: int, horizon_days: int = 14, product_ids: list[int] | None = None, *,
    options: EnqueueOptions | None = None, producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(
        company_id=company_id,
        horizon_days=horizon_days,
        product_ids=product_ids,
    )
    return await _enqueue("ai", "demand-forecast", payload, options, producer, session)


async def queue_anomaly_detection(
    company_id: int, metric: str = "all", range: str = "daily", lookback_days: int = 90, *,
    options: EnqueueOptions | None = None, producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    """``metric`` revenue, orders, inventory, patients or all; ``range`` daily, weekly or
    monthly buckets."""
    payload = dict(
        company_id=company_id,
        metric=metric,
        range=range,
        lookback_days=lookback_days,
    )
    return await _enqueue("ai", "anomaly-detection", payload, options, producer, session)


async def queue_insight_generation(
    company_id: int, type: str = "all", period: str = "month", *,
    options: EnqueueOptions | None = None, producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    """``type`` revenue, inventory, patient-care, operations or all; ``period`` week, month or
    quarter (ending yesterday, against the one before)."""
    payload = dict(company_id=company_id, type=type, period=period)
    return await _enqueue("ai", "insight-generation", payload, options, producer, session)


async def queue_chat_response(
    conversation_id: int, user_id: int, company_id: int, message: str,
    message_id: int | None = None, *,
    options: EnqueueOptions | None = None, producer: Producer | None = None,
    session: AsyncSession | None = None,
) -> Enqueued:  # fmt: skip
    payload = dict(
        conversation_id=conversation_id,
        user_id=user_id,
        company_id=company_id,
        message=message,
        message_id=message_id,
    )
    return await _enqueue("ai", "chat-response", payload, options, producer, session)


# ---- stats ----------------------------------------------------------------------------------


async def get_queue_stats(*, producer: Producer | None = None) -> dict[str, dict[str, int]]:
    """Counts per state for each of the six queues (the seed's ``getQueueStats``)."""
    prod = producer or current_producer()
    return await QueueAdmin(prod.settings, prod.broker).stats()
