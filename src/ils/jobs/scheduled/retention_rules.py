"""The retention job's rules as queries (:mod:`ils.jobs.scheduled.retention` declares the job):
ended sessions and tokens, notifications past their retention, and stored files no document
names. Each deletes only what its rule names, so a run repeated deletes nothing more.
"""

from __future__ import annotations

import datetime as dt
import itertools

from sqlalchemy import delete, func, or_, select

from ils.domain.db import Database
from ils.domain.models import ApiToken, AuthSession, Document, Notification
from ils.files import FileStorage
from ils.jobs.scheduled.settings import RetentionSettings

#: Files looked up in the documents table per query.
FILE_BATCH = 500


def seconds(n: int) -> dt.timedelta:
    return dt.timedelta(seconds=n)


async def credentials(db: Database, limits: RetentionSettings, now: dt.datetime) -> dict[str, int]:
    """Delete sessions and tokens that ended more than ``credential_days`` before ``now``."""
    cutoff = now - dt.timedelta(days=limits.credential_days)
    sessions = delete(AuthSession).where(or_(
        AuthSession.revoked_at < cutoff,
        AuthSession.created_at < cutoff - seconds(limits.session_absolute_s),
        AuthSession.last_seen_at < cutoff - seconds(limits.session_idle_s),
    ))  # fmt: skip
    tokens = delete(ApiToken).where(or_(
        ApiToken.revoked_at < cutoff,
        ApiToken.created_at < cutoff - seconds(limits.token_absolute_s),
        func.coalesce(ApiToken.last_used_at, ApiToken.created_at)
        < cutoff - seconds(limits.token_idle_s),
    ))  # fmt: skip
    async with db.session() as session:
        gone_sessions = (await session.execute(sessions)).rowcount  # type: ignore[attr-defined]
        gone_tokens = (await session.execute(tokens)).rowcount  # type: ignore[attr-defined]
    return {"sessions": int(gone_sessions), "tokens": int(gone_tokens)}


async def notifications(db: Database, limits: RetentionSettings, now: dt.datetime) -> int:
    cutoff = now - dt.timedelta(days=limits.notification_days)
    async with db.session() as session:
        result = await session.execute(delete(Notification).where(Notification.created_at < cutoff))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def orphan_files(
    db: Database, files: FileStorage, limits: RetentionSettings, now: dt.datetime
) -> list[str]:
    """Delete the stored files older than ``orphan_document_hours`` that no document names;
    their keys."""
    cutoff = (now - dt.timedelta(hours=limits.orphan_document_hours)).timestamp()
    old = (key for key, mtime in files.entries() if mtime < cutoff)
    deleted: list[str] = []
    while batch := list(itertools.islice(old, FILE_BATCH)):
        async with db.session() as session:
            query = select(Document.path).where(Document.path.in_(batch))
            named = set(await session.scalars(query))
        for key in batch:
            if key not in named:
                files.delete(key)
                deleted.append(key)
    return deleted
