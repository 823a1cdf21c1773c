"""The webhooks' subscriber of the event dispatcher (:mod:`ils.events.dispatcher`): each event of a
company becomes one ``deliver-webhook`` job per enabled endpoint of that company subscribed to
its type, enqueued through the outbox in the dispatcher's transaction, the one that moves the
subscriber's cursor past the event (exactly once, one commit per batch). Its job ids (event id +
endpoint id) make a redelivered or replayed event one delivery per endpoint. Platform events (no
company) go to no endpoint.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ils.events.dispatcher import Subscriber, TransactionalSubscriber

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.db import Database
    from ils.events.envelope import EventEnvelope
    from ils.jobs.notification.channel import NotificationPublisher

NAME = "webhooks"


class WebhookSubscriber(TransactionalSubscriber):
    name = NAME
    start = "beginning"

    def __init__(self, db: Database) -> None:
        self.db = db

    async def handle_in(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        if envelope.company_id is None:
            return
        from ils.jobs.webhooks.fanout import enqueue_deliveries

        await enqueue_deliveries(session, envelope)


def subscribers(db: Database, notifier: NotificationPublisher | None) -> list[Subscriber]:
    """The subscribers this module gives a process (see :mod:`ils.events.subscribers`)."""
    return [WebhookSubscriber(db)]
