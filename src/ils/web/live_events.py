"""Which open sockets see which domain events: the live hub's filter for the ``event``
announcements of the live subscriber (:mod:`ils.events.live`).

The channel carries only an event's id; the event is read from the database, and handed to the
sockets of users allowed to read the event log (``events.read``) in the event's company, or to
platform admins (every company's). A forged id finds nothing, and no company sees another's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.models import User
from ils.domain.models.events import Event
from ils.web.auth.ownership import sees_all_companies
from ils.web.auth.policy import allows


async def visible(
    database: Database, event_ids: Sequence[str], user_ids: Sequence[int]
) -> dict[int, list[dict[str, Any]]]:
    """For each of ``user_ids``, the envelopes (JSON) of ``event_ids`` they may see, in id
    order."""
    async with database.session() as session:
        rows = list(
            (await session.scalars(select(Event).where(Event.id.in_(list(event_ids))))).all()
        )
        users = list((await session.scalars(select(User).where(User.id.in_(list(user_ids))))).all())
    rows.sort(key=lambda row: row.id)
    seen: dict[int, list[dict[str, Any]]] = {}
    for user in users:
        if not (user.is_active and allows(user.role, "events.read")):
            continue
        mine = [
            row.envelope().model_dump(mode="json")
            for row in rows
            if sees_all_companies(user) or row.company_id == user.company_id
        ]
        if mine:
            seen[user.id] = mine
    return seen
