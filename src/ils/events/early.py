"""Handing events over before they settle, to the subscribers that may take an event twice.

The dispatcher moves a cursor only past events older than its settle time (a transaction that
recorded an event just before another's may commit after it), which makes every event wait that
long. A transactional subscriber whose work is idempotent by event id (the webhooks': its job ids
are the event's and the endpoint's) sets ``early``: after each pass has moved its cursor, it is
also handed, in a transaction of their own that moves nothing, the committed events past the
cursor up to the pass's time. Its cursor still moves only once they settle, as before, so an
event that committed late is handed over then, and none is skipped.

What this process handed early is remembered (:class:`EarlyMemo`): the next pass starts after it,
and the settled hand-over skips the events already handed, so in one process each event is handed
once. Another process, or this one after a restart, hands them again when they settle: a
redelivery, which the subscriber's idempotence absorbs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ils.events.envelope import id_floor

if TYPE_CHECKING:
    from ils.events.dispatcher import Dispatcher
    from ils.events.kinds import TransactionalSubscriber


@dataclass
class EarlyMemo:
    """One subscriber's events this process handed early: the newest, and those its cursor has
    not passed yet."""

    mark: str = ""
    done: set[str] = field(default_factory=set)

    def passed(self, position: str) -> None:
        """The cursor moved to ``position``: forget what it passed."""
        self.done = {event_id for event_id in self.done if event_id > position}


#: The memo of a subscriber that was handed nothing early.
NOTHING_EARLY = EarlyMemo()


async def hand_early(
    dispatcher: Dispatcher, subscriber: TransactionalSubscriber, position: str, now: dt.datetime
) -> int:
    """Hand ``subscriber`` the committed events past ``position`` (its cursor) recorded up to
    ``now``, but those handed before; how many. A failure stops it quietly: the events come
    again when they settle, where a failure is kept on the cursor."""
    memo = dispatcher.early.setdefault(subscriber.name, EarlyMemo())
    memo.passed(position)
    after, before = max(position, memo.mark), id_floor(now + dt.timedelta(milliseconds=1))
    handed = 0
    while True:
        read = await dispatcher.read_events(subscriber, after, before)
        events = [envelope for envelope in read if envelope.id not in memo.done]
        if events:
            if await dispatcher.commit_in(subscriber, events, move=False) is not None:
                return handed
            memo.done.update(envelope.id for envelope in events)
            memo.mark = max(memo.mark, events[-1].id)
            handed += len(events)
        if len(read) < dispatcher.batch:
            return handed
        after = read[-1].id
