"""The live hub of one web process: its one Redis subscription to the notification channel, and
the in-process fan-out of each event to the open sockets of the event's user.

The channel is not trusted (anyone able to PUBLISH on the Redis could write on it), so what
reaches a socket is read from the database: the hub takes the events that arrived together, reads
the notifications they name and their users' unread counts in one query each, and drops an event
whose notification is not its user's. Sockets register an :class:`Inbox` for their user; the hub
drops :class:`Delivery` items into it without ever waiting on a socket. An inbox that overflows
(a client too slow to read) is marked so its socket closes and the client reconnects and catches
up from the database. When the subscription drops and comes back, every inbox gets
:data:`RESYNC`: events published meanwhile were lost to this process, so each socket re-reads
what it may have missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import redis.asyncio as aredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from ils.domain.db import Database
from ils.domain.services import notifications as service
from ils.jobs.notification.channel import LiveEvent, channel
from ils.queue.background import BackgroundTask
from ils.queue.broker import Broker, redact
from ils.web import live_events

log = logging.getLogger(__name__)

INBOX_SIZE = 256
# Seconds between a failed subscription and the next try, doubling up to the cap.
RETRY_FIRST_S, RETRY_CAP_S = 0.5, 5.0
# How long one read waits before the loop goes round (and the client's health check pings).
READ_WAIT_S = 5.0
# Most events read from the database together (a fan-out to a company arrives as a burst).
BATCH_MAX = 500


class _Resync:
    def __repr__(self) -> str:
        return "RESYNC"


RESYNC: Final = _Resync()


@dataclass(frozen=True)
class Delivery:
    """What one socket is sent for one event, as the database has it for the socket's user."""

    kind: Literal["notification", "read", "event"]
    unread_count: int
    notification: dict[str, Any] | None = None
    ids: list[int] | Literal["all"] = field(default_factory=list)
    event: dict[str, Any] | None = None


class Inbox:
    """What the hub has for one socket: a bounded queue of deliveries (or :data:`RESYNC`)."""

    def __init__(self, user_id: int, size: int = INBOX_SIZE) -> None:
        self.user_id = user_id
        self.overflowed = False
        self._queue: asyncio.Queue[Delivery | _Resync] = asyncio.Queue(size)

    def offer(self, item: Delivery | _Resync) -> None:
        try:
            self._queue.put_nowait(item)
        except asyncio.QueueFull:
            self.overflowed = True

    async def get(self) -> Delivery | _Resync:
        return await self._queue.get()


class LiveHub:
    """One subscription per web process, fanned out to the registered inboxes."""

    def __init__(self, broker: Broker, database: Database) -> None:
        self.broker = broker
        self.database = database
        self.channel = channel(broker.settings.prefix)
        self._inboxes: dict[int, set[Inbox]] = defaultdict(set)
        self._ready = asyncio.Event()
        self._task = BackgroundTask("ils-live-hub", self._run)
        self._delay, self._lost = RETRY_FIRST_S, False

    @property
    def connected(self) -> int:
        """How many sockets are registered."""
        return sum(len(boxes) for boxes in self._inboxes.values())

    def register(self, user_id: int) -> Inbox:
        inbox = Inbox(user_id)
        self._inboxes[user_id].add(inbox)
        return inbox

    def unregister(self, inbox: Inbox) -> None:
        boxes = self._inboxes.get(inbox.user_id)
        if boxes is not None:
            boxes.discard(inbox)
            if not boxes:
                del self._inboxes[inbox.user_id]

    async def wait_ready(self, timeout_s: float) -> bool:
        """True once the subscription is live (False if it is not within ``timeout_s``)."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout_s)
        except TimeoutError:
            return False
        return True

    async def dispatch(self, events: Sequence[LiveEvent]) -> None:
        """Hand what ``events`` announce, read from the database, to their users' inboxes."""
        domain = [e.event_id for e in events if e.kind == "event" and e.event_id]
        if domain and self._inboxes:
            await self._domain_events(domain)
        wanted = [e for e in events if e.kind != "event" and self._inboxes.get(e.user_id)]
        if not wanted:
            return
        try:
            deliveries = await self._resolve(wanted)
        except (SQLAlchemyError, OSError) as exc:
            # The sockets catch up from the database when they reconnect or resync.
            log.warning("live notifications: %d events not delivered: %s", len(wanted), exc)
            return
        for event, delivery in zip(wanted, deliveries, strict=True):
            if delivery is None:
                log.warning(
                    "live notifications: dropped a %s event for user %s: the database does not "
                    "confirm it (forged or stale)",
                    event.kind,
                    event.user_id,
                )
                continue
            for inbox in self._inboxes.get(event.user_id, ()):
                inbox.offer(delivery)

    async def _domain_events(self, event_ids: Sequence[str]) -> None:
        """Domain events to the sockets of the users who may see them (see
        :mod:`ils.web.live_events`)."""
        try:
            seen = await live_events.visible(self.database, event_ids, sorted(self._inboxes))
        except (SQLAlchemyError, OSError) as exc:
            log.warning("live events: %d events not delivered: %s", len(event_ids), exc)
            return
        for user_id, envelopes in seen.items():
            for inbox in self._inboxes.get(user_id, ()):
                for envelope in envelopes:
                    inbox.offer(Delivery("event", -1, event=envelope))

    async def _resolve(self, events: Sequence[LiveEvent]) -> list[Delivery | None]:
        """Each event as its user's socket sees it, or None where the database disagrees."""
        note_ids = {e.notification_id for e in events if e.notification_id is not None}
        read_ids = {i for e in events if isinstance(e.ids, list) for i in e.ids}
        async with self.database.session() as session:
            notes = await service.by_ids(session, sorted(note_ids))
            read = await service.read_owners(session, sorted(read_ids))
            unread = await service.unread_counts(session, sorted({e.user_id for e in events}))
        out: list[Delivery | None] = []
        for event in events:
            count = unread[event.user_id]
            if event.kind == "notification":
                row = notes.get(event.notification_id or 0)
                if row is None or row.user_id != event.user_id:
                    out.append(None)
                else:
                    out.append(Delivery("notification", count, service.as_json(row)))
            elif event.ids == "all":
                out.append(Delivery("read", count, ids="all"))
            else:
                ids = sorted(i for i in set(event.ids) if read.get(i) == event.user_id)
                out.append(Delivery("read", count, ids=ids) if ids else None)
        return out

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        await self._task.stop()
        self._ready.clear()

    def _client(self) -> aredis.Redis:
        # No retries inside redis-py: a reconnect it made silently would hide the events lost
        # meanwhile; this loop reconnects instead, and tells every socket to resync.
        return aredis.from_url(
            self.broker.url,
            decode_responses=True,
            socket_timeout=None,
            socket_connect_timeout=5,
            socket_keepalive=True,
            health_check_interval=15,
            retry=Retry(NoBackoff(), 0),
            client_name="ils-live-hub",
        )

    async def _run(self) -> None:
        self._delay, self._lost = RETRY_FIRST_S, False
        while True:
            try:
                await self._listen()
            except (RedisError, OSError) as exc:
                self._ready.clear()
                if not self._lost:
                    log.warning(
                        "live notifications: subscription to Redis at %s lost (%s); retrying",
                        redact(self.broker.url),
                        exc,
                    )
                self._lost = True
                await asyncio.sleep(self._delay)
                self._delay = min(self._delay * 2, RETRY_CAP_S)

    async def _listen(self) -> None:
        client = self._client()
        pubsub = client.pubsub()
        try:
            await pubsub.subscribe(self.channel)
            while True:  # the subscription counts once Redis confirms it
                message = await pubsub.get_message(timeout=READ_WAIT_S)
                if message is not None and message["type"] == "subscribe":
                    break
            self._ready.set()
            log.info("live notifications: subscribed to %s", self.channel)
            if self._lost:
                for boxes in self._inboxes.values():
                    for inbox in boxes:
                        inbox.offer(RESYNC)
            self._delay, self._lost = RETRY_FIRST_S, False
            while True:
                message = await pubsub.get_message(timeout=READ_WAIT_S)
                batch: list[LiveEvent] = []
                # What has already arrived goes with it: one read of the database for a burst.
                while message is not None:
                    if message["type"] == "message":
                        event = LiveEvent.decode(message["data"])
                        if event is not None:
                            batch.append(event)
                    if len(batch) >= BATCH_MAX:
                        break
                    message = await pubsub.get_message(timeout=0)
                await self.dispatch(batch)
        finally:
            with contextlib.suppress(RedisError, OSError):
                await pubsub.aclose()
            with contextlib.suppress(RedisError, OSError):
                await client.aclose()
