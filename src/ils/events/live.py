"""The built-in ``live`` subscriber: every domain event announced on the live channel, for the
dashboard and users' WebSocket channels (the web processes' live hubs read it from the database
and hand it to the sockets of the users of its company who may read the event log).

It starts at the end of the log: a deployment that adds it does not push its history to open
dashboards. It takes a batch of events at a time (one Redis round trip, one cursor write); a Redis
error fails the batch, so the dispatcher retries it event by event and stops at the one that
fails: an announcement may then go out twice, as it could already when a process died between
publishing and moving the cursor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from ils.events.dispatcher import BatchSubscriber, Subscriber
from ils.events.envelope import EventEnvelope
from ils.jobs.notification.channel import LiveEvent

if TYPE_CHECKING:
    from ils.domain.db import Database
    from ils.jobs.notification.channel import NotificationPublisher

LIVE = "live"


class LiveSubscriber(BatchSubscriber):
    name = LIVE
    start = "end"
    timeout_s = 10.0

    def __init__(self, notifier: NotificationPublisher) -> None:
        self.notifier = notifier

    async def handle_batch(self, envelopes: Sequence[EventEnvelope]) -> None:
        await self.notifier.publish([LiveEvent.domain_event(e.id) for e in envelopes])


def subscribers(db: Database, notifier: NotificationPublisher | None) -> list[Subscriber]:
    """The live subscriber, where the process has a publisher."""
    return [LiveSubscriber(notifier)] if notifier is not None else []
