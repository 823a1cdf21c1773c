"""The live side of notifications: the Redis pub/sub channel they are announced on, the events
sent over it, and the publisher that worker and web processes announce with.

One channel per deployment, ``<prefix>:ils:notifications`` (under the key prefix, beside the
keys of :mod:`ils.queue.keys`); every event names its user, and each web process keeps one
subscription to it and hands each event to that user's open sockets (see :mod:`ils.web.live_hub`).
Events are hints, never the record: the database is, and a client that missed one (a dropped
connection, a Redis outage) gets it again from there on reconnect.

Events carry ids, never text: anyone able to PUBLISH on the Redis could otherwise push any
words to any user's screen. The web process reads what it sends from the database, as that
user's (an id that is not the user's is dropped), so a forged event delivers nothing.

| event | fields (besides ``user_id``) | sent when |
|---|---|---|
| ``notification`` | ``id`` (the notification's) | a job stored it |
| ``read`` | ``ids`` (a list, or ``"all"``) | the user marked some read |
| ``event`` | ``id`` (a domain event's, no ``user_id``) | the live subscriber handed it on |
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import redis.asyncio as aredis

from ils.queue import keys
from ils.queue.broker import Broker

log = logging.getLogger(__name__)

EventKind = Literal["notification", "read", "event"]
#: A domain event's id (a ULID), as the channel may carry it.
EVENT_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}$")
#: The ``user_id`` of an ``event``: it is for every socket allowed to see it, not one user's.
EVERYONE = 0


def channel(prefix: str) -> str:
    """The pub/sub channel of one deployment (one key prefix)."""
    return keys.notifications_channel(prefix)


@dataclass(frozen=True)
class LiveEvent:
    """One announcement for one user's sockets: which notification is new, or which are read."""

    kind: EventKind
    user_id: int
    notification_id: int | None = None
    ids: list[int] | Literal["all"] = field(default_factory=list)
    event_id: str | None = None

    @classmethod
    def domain_event(cls, event_id: str) -> LiveEvent:
        """The announcement of a domain event (:mod:`ils.events`), for every socket."""
        return cls(kind="event", user_id=EVERYONE, event_id=event_id)

    def encode(self) -> str:
        if self.kind == "event":
            return json.dumps({"event": "event", "id": self.event_id}, separators=(",", ":"))
        body: dict[str, Any] = {"event": self.kind, "user_id": self.user_id}
        if self.kind == "notification":
            body["id"] = self.notification_id
        else:
            body["ids"] = self.ids
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes) -> LiveEvent | None:
        """The event in a channel message; None (logged) for anything else."""
        try:
            body = json.loads(raw)
            kind = body["event"]
            if kind == "event":
                ident = body["id"]
                if not isinstance(ident, str) or not EVENT_ID.match(ident):
                    raise ValueError(f"not an event id: {ident!r}")
                return cls.domain_event(ident)
            user_id = _whole(body["user_id"])
            if kind == "notification":
                return cls(kind="notification", user_id=user_id, notification_id=_whole(body["id"]))
            if kind == "read":
                ids = body["ids"]
                if ids != "all":
                    if not isinstance(ids, list):
                        raise ValueError("ids: not a list")
                    ids = [_whole(i) for i in ids]
                return cls(kind="read", user_id=user_id, ids=ids)
            raise ValueError(f"unknown event {kind!r}")
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed notification event: %s", exc)
            return None


def _whole(value: Any) -> int:
    # bool is an int to Python, and a float would be truncated: neither is an id.
    if type(value) is not int or value < 1:
        raise ValueError(f"not an id: {value!r}")
    return value


class NotificationPublisher:
    """Announces events on the deployment's channel; one Redis client, opened on first use."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.channel = channel(broker.settings.prefix)
        self._client: aredis.Redis | None = None

    async def publish(self, events: Sequence[LiveEvent]) -> None:
        """Publish ``events`` in one round trip; raises Redis' errors (the caller decides)."""
        if not events:
            return
        if self._client is None:
            # One server's client even on a Redis Cluster (which hands each message to every
            # node, and whose client will not pipeline PUBLISH).
            self._client = self.broker.node_client("producer", name="ils-notify-publisher")
        async with self._client.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(self.channel, event.encode())
            await pipe.execute()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
