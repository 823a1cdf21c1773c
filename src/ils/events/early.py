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
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ils.domain.models.types import utcnow
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


#: How long a pass goes on handing over events committed while it runs (it holds the cursor's
#: lease meanwhile, and the settled hand-over waits).
GO_ON_S = 1.0

#: The memo of a subscriber that was handed nothing early.
NOTHING_EARLY = EarlyMemo()


async def hand_early(
    dispatcher: Dispatcher, subscriber: TransactionalSubscriber, position: str, now: dt.datetime
) -> int:
    """Hand ``subscriber`` the committed events past ``position`` (its cursor) recorded up to
    ``now``, or up to each read when that is later (for up to :data:`GO_ON_S`, a pass goes on
    with the events committed meanwhile, which passes that found the subscriber held left to
    it), but those handed before; how many. A failure stops it quietly: the events come again
    when they settle, where a failure is kept on the cursor."""
    memo = dispatcher.early.setdefault(subscriber.name, EarlyMemo())
    memo.passed(position)
    after = max(position, memo.mark)
    handed = 0
    until = time.monotonic() + GO_ON_S
    while True:
        before = id_floor(max(now, utcnow()) + dt.timedelta(milliseconds=1))
        read = await dispatcher.read_events(subscriber, after, before)
        events = [envelope for envelope in read if envelope.id not in memo.done]
        if events:
            if await dispatcher.commit_in(subscriber, events, move=False) is not None:
                return handed
            memo.done.update(envelope.id for envelope in events)
            memo.mark = max(memo.mark, events[-1].id)
            handed += len(events)
        if not events or time.monotonic() > until:
            return handed
        after = read[-1].id
