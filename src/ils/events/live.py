"""The built-in ``live`` subscriber: every domain event announced on the live channel, for the
dashboard and users' WebSocket channels (the web processes' live hubs read it from the database
and hand it to the sockets of the users of its company who may read the event log).

It starts at the end of the log: a deployment that adds it does not push its history to open
dashboards. A Redis error fails the delivery, so the dispatcher retries from this event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ils.events.dispatcher import Subscriber
from ils.events.envelope import EventEnvelope
from ils.jobs.notification.channel import LiveEvent

if TYPE_CHECKING:
    from ils.domain.db import Database
    from ils.jobs.notification.channel import NotificationPublisher

LIVE = "live"


class LiveSubscriber(Subscriber):
    name = LIVE
    start = "end"
    timeout_s = 10.0

    def __init__(self, notifier: NotificationPublisher) -> None:
        self.notifier = notifier

    async def handle(self, envelope: EventEnvelope) -> None:
        await self.notifier.publish([LiveEvent.domain_event(envelope.id)])


def subscribers(db: Database, notifier: NotificationPublisher | None) -> list[Subscriber]:
    """The live subscriber, where the process has a publisher."""
    return [LiveSubscriber(notifier)] if notifier is not None else []
