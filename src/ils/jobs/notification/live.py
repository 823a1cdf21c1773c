"""The live side of notifications: the Redis pub/sub channel they are announced on, the events
sent over it, and the publisher that worker and web processes announce with.

One channel per deployment, ``<prefix>:ils:notifications`` (under the key prefix, beside the
keys of :mod:`ils.queue.keys`); every event names its user, and each web process keeps one
subscription to it and hands each event to that user's open sockets (see :mod:`ils.web.live`).
Events are hints, never the record: the database is, and a client that missed one (a dropped
connection, a Redis outage) gets it again from there on reconnect.

| event | fields (besides ``user_id``, ``unread_count``) | sent when |
|---|---|---|
| ``notification`` | ``notification`` (as REST shows it) | a job stored it |
| ``read`` | ``ids`` (a list, or ``"all"``) | the user marked some read |
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import redis.asyncio as aredis

from ils.queue.broker import Broker

log = logging.getLogger(__name__)

EventKind = Literal["notification", "read"]


def channel(prefix: str) -> str:
    """The pub/sub channel of one deployment (one key prefix)."""
    return f"{prefix}:ils:notifications"


@dataclass(frozen=True)
class LiveEvent:
    """One announcement for one user's sockets."""

    kind: EventKind
    user_id: int
    unread_count: int
    notification: dict[str, Any] | None = None
    ids: list[int] | Literal["all"] = field(default_factory=list)

    def encode(self) -> str:
        body: dict[str, Any] = {
            "event": self.kind,
            "user_id": self.user_id,
            "unread_count": self.unread_count,
        }
        if self.kind == "notification":
            body["notification"] = self.notification
        else:
            body["ids"] = self.ids
        return json.dumps(body, separators=(",", ":"))

    @classmethod
    def decode(cls, raw: str | bytes) -> LiveEvent | None:
        """The event in a channel message; None (logged) for anything else."""
        try:
            body = json.loads(raw)
            kind = body["event"]
            if kind not in ("notification", "read"):
                raise ValueError(f"unknown event {kind!r}")
            return cls(
                kind=kind,
                user_id=int(body["user_id"]),
                unread_count=int(body["unread_count"]),
                notification=body.get("notification"),
                ids=body.get("ids", []),
            )
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring a malformed notification event: %s", exc)
            return None

    def to_client(self) -> dict[str, Any]:
        """What the user's socket is sent (the user id is implied by the socket)."""
        if self.kind == "notification":
            return {
                "type": "notification",
                "notification": self.notification,
                "unread_count": self.unread_count,
            }
        return {"type": "read", "ids": self.ids, "unread_count": self.unread_count}


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
            self._client = self.broker.client("producer", name="ils-notify-publisher")
        async with self._client.pipeline(transaction=False) as pipe:
            for event in events:
                pipe.publish(self.channel, event.encode())
            await pipe.execute()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
