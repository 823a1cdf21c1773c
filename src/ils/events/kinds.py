"""The kinds of subscriber the event dispatcher (:mod:`ils.events.dispatcher`) serves: one that
acts on an event at a time, one that acts only by writing in the dispatcher's transaction, one
that takes a batch of events in one call; and the check each passes when registered.
"""

from __future__ import annotations

import contextlib
import difflib
from abc import ABC, abstractmethod
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from ils.errors import ConfigurationError
from ils.events.catalog import EVENT_TYPES
from ils.events.envelope import EventEnvelope


class Subscriber(ABC):
    """Receives the events of ``event_types`` (every type when empty) through :meth:`handle`.

    ``name`` keys its cursor: renaming a subscriber starts it afresh. ``start`` says where a new
    cursor begins: at the start of the log, or at its end (the events of the last few minutes,
    :data:`RECENT`, and those recorded from then on).
    """

    name: str = ""
    event_types: frozenset[str] = frozenset()
    start: str = "beginning"
    timeout_s: float = 30.0
    #: A transactional subscriber whose work is idempotent by event id may also be handed the
    #: events that have not settled yet, at once (see :mod:`ils.events.early`).
    early: bool = False

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types

    @abstractmethod
    async def handle(self, envelope: EventEnvelope) -> None:
        """Act on one event; raising leaves the cursor before it, so it comes again."""


class TransactionalSubscriber(Subscriber):
    """A subscriber that acts only by writing to the database: the dispatcher calls
    :meth:`handle_in` in its own transaction, the one that then moves the cursor, so an event's
    writes commit if and only if the cursor passes it."""

    @abstractmethod
    async def handle_in(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        """Act on one event in ``session``'s transaction (do not commit it)."""

    async def handle(self, envelope: EventEnvelope) -> None:
        """Not called by the dispatcher; a transactional subscriber has no writes of its own
        outside a transaction, so there is nothing to do without one."""
        raise TypeError(f"{self.name}: a transactional subscriber acts through handle_in")

    def batch_in(self, session: AsyncSession) -> contextlib.AbstractAsyncContextManager[None]:
        """Wraps the :meth:`handle_in` calls of one batch (all in ``session``'s transaction):
        where a subscriber sets up what its events share (a read made once per batch, writes
        gathered into one statement). Nothing by default."""
        return contextlib.nullcontext()


class BatchSubscriber(Subscriber):
    """A subscriber that acts outside the database and takes a batch of events in one call
    (:meth:`handle_batch`); the cursor moves past the batch once it returns. When it raises, the
    events are handed over one at a time (:meth:`handle`), so each must be safe to take twice."""

    @abstractmethod
    async def handle_batch(self, envelopes: Sequence[EventEnvelope]) -> None:
        """Act on ``envelopes`` (in id order); raising moves the cursor past none of them."""

    async def handle(self, envelope: EventEnvelope) -> None:
        await self.handle_batch([envelope])


def check_subscriber(subscriber: Subscriber) -> None:
    """A :class:`ConfigurationError` (with "did you mean") for a nameless subscriber or one that
    names an event type the catalog does not have."""
    if not subscriber.name or len(subscriber.name) > 64:
        raise ConfigurationError(f"{subscriber!r}: a subscriber needs a name of 1-64 characters")
    if subscriber.start not in ("beginning", "end"):
        raise ConfigurationError(f"{subscriber.name}: start must be 'beginning' or 'end'")
    for event_type in sorted(subscriber.event_types):
        if event_type not in EVENT_TYPES:
            near = difflib.get_close_matches(event_type, EVENT_TYPES, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else ""
            raise ConfigurationError(f"{subscriber.name}: unknown event type {event_type!r}{hint}")
