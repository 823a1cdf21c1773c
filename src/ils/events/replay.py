"""Replaying events: the events of a time range and types handed again to one subscriber, oldest
first, for debugging or to rebuild what a subscriber keeps.

Replay leaves the subscriber's cursor alone and delivers each event with its own id, so a
subscriber (or a webhook receiver behind it) that keeps the ids it has seen takes each once
however often a range is replayed. A dry run counts what would be sent.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from ils.events import log
from ils.events.dispatcher import Subscriber, TransactionalSubscriber


@dataclass(frozen=True)
class ReplayResult:
    """What a replay matched, and what it delivered before it stopped (at a failure, if any)."""

    subscriber: str
    matched: int
    delivered: int
    dry_run: bool
    failed_event: str | None = None
    error: str | None = None


async def replay(
    session: AsyncSession,
    subscriber: Subscriber,
    which: log.EventFilter,
    dry_run: bool = False,
) -> ReplayResult:
    """Hand ``subscriber`` every event of ``which`` it subscribes to, oldest first; stop at the
    first failure (a replay again resumes nothing: receivers drop what they have by id). Reads
    in ``session`` (a request's, which holds SQLite's one connection); a transactional
    subscriber writes in it too, committed with the caller's transaction."""
    if subscriber.event_types:
        wanted = set(subscriber.event_types)
        types = [t for t in which.types if t in wanted] if which.types else sorted(wanted)
        if not types:
            return ReplayResult(subscriber.name, 0, 0, dry_run)
        which = log.EventFilter(**{**which.__dict__, "types": types})
    matched = await log.count(session, which)
    if dry_run:
        return ReplayResult(subscriber.name, matched, 0, True)
    delivered = 0
    async for event in log.in_order(session, which):
        try:
            if isinstance(subscriber, TransactionalSubscriber):
                await subscriber.handle_in(session, event.envelope())
            else:
                await subscriber.handle(event.envelope())
        except Exception as exc:  # the subscriber's failure is the replay's answer
            error = f"{type(exc).__name__}: {exc}"[:1000]
            return ReplayResult(subscriber.name, matched, delivered, False, event.id, error)
        delivered += 1
    return ReplayResult(subscriber.name, matched, delivered, False)
