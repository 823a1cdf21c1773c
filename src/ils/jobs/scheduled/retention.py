"""The hourly retention job (the platform's schedule): outbox rows delivered to Redis more than
N days ago, files in the storage that no document names, sessions and API tokens ended (revoked
or expired) more than N days ago, and notifications past their retention.

The Ns are the ``retention`` settings (:class:`~ils.jobs.scheduled.settings.RetentionSettings`);
a session or token counts as expired by the web section's lifetimes, the ones logins apply. A
file is an orphan only once it is older than ``orphan_document_hours``, so a PDF whose row is
about to be committed is never taken for one. Every step deletes only what its rule names, so a
run repeated (a retry, a run-now) deletes nothing more.
"""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

from sqlalchemy import delete, func, or_, select

from ils.domain.db import Database
from ils.domain.models import ApiToken, AuthSession, Document, Notification
from ils.domain.models.types import utcnow
from ils.files import FileStorage
from ils.jobs.resources import Ctx
from ils.jobs.scheduled.runs import scheduled
from ils.jobs.scheduled.settings import RetentionSettings
from ils.queue.producer import Producer
from ils.queue.registry import Payload

#: Files looked up in the documents table per query.
FILE_BATCH = 500


class RetentionRun(Payload):
    """No fields: the job reads its limits from the settings."""


def settings_of(producer: Producer) -> RetentionSettings:
    """The process's retention settings (the defaults where its settings have no section)."""
    from ils.settings import IlsSettings

    found = producer.settings
    return found.retention_settings() if isinstance(found, IlsSettings) else RetentionSettings()


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


@scheduled(RetentionRun, name="retention",
           description="delete delivered outbox rows, orphaned files, ended sessions and tokens, "
           "old notifications", resources=("files", "producer"))  # fmt: skip
async def retention(payload: RetentionRun, ctx: Ctx) -> dict[str, Any]:
    db, producer = ctx.resources.db, ctx.resources.producer
    limits = settings_of(producer)
    now = utcnow()
    outbox = 0
    if producer.relay is not None:
        outbox = await producer.relay.outbox.purge(now - dt.timedelta(days=limits.outbox_days))
    files = await orphan_files(db, ctx.resources.files, limits, now)
    return {
        "outbox_rows": outbox,
        "orphaned_files": len(files),
        **await credentials(db, limits, now),
        "notifications": await notifications(db, limits, now),
    }
