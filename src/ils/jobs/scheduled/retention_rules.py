"""The retention job's rules as queries (:mod:`ils.jobs.scheduled.retention` declares the job):
ended sessions and tokens, notifications past their retention, and stored files no row names (a
document's, an OMA file's original or SVG), and domain events past their retention (archived to
a JSON-lines file under the var directory, then deleted). Each deletes only what its rule names,
so a run repeated deletes nothing more.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

from sqlalchemy import delete, func, or_, select

from ils.domain.db import Database
from ils.domain.models import ApiToken, AuthSession, Document, Event, Notification, OmaFile
from ils.events.envelope import id_floor
from ils.files import FileStorage
from ils.jobs.scheduled.settings import RetentionSettings
from ils.queue.vardir import create_private_file

#: Files looked up in the documents table per query.
FILE_BATCH = 500
#: Events archived and deleted per transaction.
EVENT_BATCH = 1_000


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


#: The columns that name a stored file: a file none of them names is an orphan.
NAMING_COLUMNS = (Document.path, OmaFile.path, OmaFile.svg_path)


async def orphan_files(
    db: Database, files: FileStorage, limits: RetentionSettings, now: dt.datetime
) -> list[str]:
    """Delete the stored files older than ``orphan_document_hours`` that no row names (a
    document's file, an OMA file's original or its SVG); their keys."""
    cutoff = (now - dt.timedelta(hours=limits.orphan_document_hours)).timestamp()
    old = (key for key, mtime in files.entries() if mtime < cutoff)
    deleted: list[str] = []
    while batch := list(itertools.islice(old, FILE_BATCH)):
        named: set[str | None] = set()
        async with db.session() as session:
            for column in NAMING_COLUMNS:
                named |= set(await session.scalars(select(column).where(column.in_(batch))))
        for key in batch:
            if key not in named:
                files.delete(key)
                deleted.append(key)
    return deleted


def archive_path(var_dir: Path, now: dt.datetime) -> Path:
    """The archive file of a run on ``now``'s day: ``<var>/events/archive/<date>.jsonl``."""
    return var_dir / "events" / "archive" / f"{now.date().isoformat()}.jsonl"


async def events(db: Database, limits: RetentionSettings, now: dt.datetime, var_dir: Path) -> int:
    """Archive the events recorded more than ``event_days`` before ``now`` (one envelope per
    line, appended and flushed to disk), then delete them; how many. A run cut off between the two
    archives those events again next time: a line's ``id`` tells copies apart."""
    floor = id_floor(now - dt.timedelta(days=limits.event_days))
    path = archive_path(var_dir, now)
    done = 0
    while True:
        async with db.session() as session:
            query = select(Event).where(Event.id < floor).order_by(Event.id).limit(EVENT_BATCH)
            rows = list((await session.scalars(query)).all())
            if not rows:
                return done
            create_private_file(path)
            with path.open("a", encoding="utf-8") as out:
                for row in rows:
                    out.write(row.envelope().model_dump_json() + "\n")
                out.flush()
                os.fsync(out.fileno())
            await session.execute(delete(Event).where(Event.id.in_([r.id for r in rows])))
        done += len(rows)
