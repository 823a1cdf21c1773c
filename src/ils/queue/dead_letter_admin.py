"""The dead letters as the queue admin shows them: list (filtered, paged), inspect, replay one or
many, discard, each within the viewer's scope.

Reached through :class:`ils.queue.admin.QueueAdmin` (``admin.dead_letters``), so the API, the
dashboard and the CLI apply one rule: a company sees, replays and discards its own dead letters
(another company's is "not found", worded as a missing one), the platform operator all; a masked
scope gets the payload's personal fields and the failure's text hidden
(:func:`ils.queue.masking.mask_dead_letter`).

A replay is a new job of the same type and payload, for the same company, whose id is derived
from the dead letter (``dlq-<id>``, :func:`ils.queue.dead_letters.replay_job_id`): the link back
to the original, and what makes replaying idempotent. The dead letter is marked
(``replayed_as``) in the caller's transaction and the job goes through the outbox in the same
one, so a replay is enqueued exactly when its mark commits; replaying a dead letter already
replayed returns that job. A dead letter whose type is gone or whose payload no longer
validates is refused (:class:`JobStateConflict`): replaying cannot make it run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ils.errors import InvalidJobPayload, JobNotFound, JobStateConflict, UnknownJobType
from ils.queue.browse import TypeOf
from ils.queue.dead_letters import (
    MAX_PAGE_SIZE,
    DeadLetter,
    DeadLetterFilter,
    DeadLetters,
    replay_job_id,
)
from ils.queue.executor import validate_payload
from ils.queue.masking import mask_dead_letter
from ils.queue.producer import EnqueueOptions, Producer
from ils.queue.tenancy import ViewerScope

#: The most dead letters one bulk replay takes.
MAX_BULK = 500


@dataclass(frozen=True)
class Replayed:
    """What a replay did: the dead letter, its replay's job id, and whether this call enqueued
    it (False: it was replayed before, or ``error`` says why it was not)."""

    dead_letter_id: int
    job_id: str | None
    enqueued: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class DeadLetterAdmin:
    """Scoped reads and actions on one database's dead letters."""

    def __init__(self, store: DeadLetters, producer: Producer, type_of: TypeOf) -> None:
        self.store = store
        self.producer = producer
        self.type_of = type_of

    def view(self, dead: DeadLetter, scope: ViewerScope) -> dict[str, Any]:
        """The dead letter as ``scope`` may see it."""
        out = dead.to_dict()
        return mask_dead_letter(out, self.type_of(dead.queue, dead.name)) if scope.mask else out

    async def _visible(
        self, session: AsyncSession, scope: ViewerScope, dead_letter_id: int
    ) -> DeadLetter:
        dead = await self.store.get(session, dead_letter_id, scope.company_id)
        if dead is None:
            raise JobNotFound(f"no dead letter {dead_letter_id}")
        return dead

    async def page(
        self,
        session: AsyncSession,
        scope: ViewerScope,
        which: DeadLetterFilter | None = None,
        page: int = 1,
        page_size: int = 50,
    ) -> dict[str, Any]:
        """One page of the dead letters ``which`` selects among those ``scope`` sees, the
        latest failure first: ``{total, page, page_size, dead_letters}``."""
        if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page must be >= 1 and page_size 1..{MAX_PAGE_SIZE}")
        which = which or DeadLetterFilter()
        out: dict[str, Any] = {"page": page, "page_size": page_size}
        if scope.company_id is not None:
            if which.company_id not in (None, scope.company_id):
                return out | {"total": 0, "dead_letters": []}
            which = dataclasses.replace(which, company_id=scope.company_id)
        total, rows = await self.store.page(session, which, (page - 1) * page_size, page_size)
        return out | {"total": total, "dead_letters": [self.view(d, scope) for d in rows]}

    async def inspect(
        self, session: AsyncSession, scope: ViewerScope, dead_letter_id: int
    ) -> dict[str, Any]:
        """One dead letter in full (masked for a masked scope); :class:`JobNotFound` for a
        missing one and another company's alike."""
        return self.view(await self._visible(session, scope, dead_letter_id), scope)

    def _check_replayable(self, dead: DeadLetter) -> None:
        try:
            validate_payload(self.producer.registry.get(dead.queue, dead.name), dead.payload)
        except (UnknownJobType, InvalidJobPayload) as exc:
            raise JobStateConflict(f"dead letter {dead.id} cannot be replayed: {exc}") from exc

    async def replay(
        self, session: AsyncSession, scope: ViewerScope, dead_letter_id: int
    ) -> Replayed:
        """Enqueue the dead letter's job again, in ``session``'s transaction (through the
        outbox: it reaches BullMQ once that commits); a second replay returns the first's job."""
        dead = await self._visible(session, scope, dead_letter_id)
        if dead.replayed_as is not None:
            return Replayed(dead.id, dead.replayed_as, False)
        self._check_replayable(dead)
        job_id = replay_job_id(dead.id)
        if not await self.store.claim_replay(session, dead.id, job_id):
            # Replayed by someone else since we read it: theirs is the replay.
            again = await self._visible(session, scope, dead_letter_id)
            return Replayed(dead.id, again.replayed_as, False)
        await self.producer.enqueue(
            dead.queue, dead.name, dead.payload, EnqueueOptions(job_id=job_id),
            session=session, company_id=dead.company_id,
        )  # fmt: skip
        return Replayed(dead.id, job_id, True)

    async def replay_many(
        self, session: AsyncSession, scope: ViewerScope, ids: Iterable[int]
    ) -> list[Replayed]:
        """Replay each of ``ids`` (at most :data:`MAX_BULK`); one that is not found or cannot
        be replayed says why in its ``error`` and does not stop the others."""
        chosen = list(dict.fromkeys(ids))
        if len(chosen) > MAX_BULK:
            raise ValueError(f"at most {MAX_BULK} dead letters at once")
        out = []
        for dead_letter_id in chosen:
            try:
                out.append(await self.replay(session, scope, dead_letter_id))
            except (JobNotFound, JobStateConflict) as exc:
                out.append(Replayed(dead_letter_id, None, False, str(exc)))
        return out

    async def discard(
        self, session: AsyncSession, scope: ViewerScope, dead_letter_id: int
    ) -> DeadLetter:
        """Delete one dead letter of the scope, in ``session``'s transaction."""
        dead = await self._visible(session, scope, dead_letter_id)
        await self.store.discard(session, dead.id, scope.company_id)
        return dead
