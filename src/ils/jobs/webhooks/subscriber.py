"""The webhooks' subscriber of the event dispatcher (:mod:`ils.events.dispatcher`): each event of a
company becomes one ``deliver-webhook`` job per enabled endpoint of that company subscribed to
its type, enqueued through the outbox in the dispatcher's transaction, the one that moves the
subscriber's cursor past the event (exactly once, one commit per batch). Its job ids (event id +
endpoint id) make a redelivered or replayed event one delivery per endpoint. Platform events (no
company) go to no endpoint. A batch reads each company's endpoints once and writes its jobs to the
outbox in one statement.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING

from ils.errors import ConfigurationError
from ils.events.dispatcher import Subscriber, TransactionalSubscriber

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.domain.db import Database
    from ils.events.envelope import EventEnvelope
    from ils.jobs.notification.channel import NotificationPublisher

NAME = "webhooks"
#: ``session.info`` key: the endpoints of each company read in the batch under way.
KNOWN = "ils.webhooks.known_endpoints"


class WebhookSubscriber(TransactionalSubscriber):
    name = NAME
    start = "beginning"
    # Its job ids (event + endpoint) make a second hand-over of an event add nothing: it takes
    # events before they settle (ils.events.early), so a webhook leaves within the pass.
    early = True

    def __init__(self, db: Database) -> None:
        self.db = db

    @contextlib.asynccontextmanager
    async def batch_in(self, session: AsyncSession) -> AsyncIterator[None]:
        from ils.queue.producer import batch

        try:
            writes = batch(session)
        except ConfigurationError:  # no job system on this database: nothing is enqueued
            writes = contextlib.nullcontext()
        session.info[KNOWN] = {}
        try:
            async with writes:
                yield
        finally:
            session.info.pop(KNOWN, None)

    async def handle_in(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        if envelope.company_id is None:
            return
        from ils.jobs.webhooks.fanout import enqueue_deliveries

        await enqueue_deliveries(session, envelope, known=session.info.get(KNOWN))


def subscribers(db: Database, notifier: NotificationPublisher | None) -> list[Subscriber]:
    """The subscribers this module gives a process (see :mod:`ils.events.subscribers`)."""
    return [WebhookSubscriber(db)]
