"""The start-up check of ``ils serve`` and ``ils worker``: is the database at the revision this
code needs? Answered with the database's own driver (:mod:`ils.domain.dbapi`), so the check loads
neither SQLAlchemy nor Alembic; Alembic is loaded only to explain a database that is not."""

from __future__ import annotations

import asyncio

from ils.domain.db import Database
from ils.domain.migrations import HEAD_REVISION

VERSION_TABLE = "alembic_version"
# Whether the version table exists (in the search path, on PostgreSQL), as each database says.
TABLE_EXISTS = {
    "sqlite": f"SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '{VERSION_TABLE}'",
    "postgresql": f"SELECT 1 WHERE to_regclass('{VERSION_TABLE}') IS NOT NULL",
}
READ_VERSION = f"SELECT version_num FROM {VERSION_TABLE}"


async def stored_revision(db: Database) -> str | None:
    """The revision ``db`` was migrated to; ``None`` when never migrated."""
    if await db.direct.first_row(TABLE_EXISTS[db.dialect]) is None:
        return None
    row = await db.direct.first_row(READ_VERSION)
    return None if row is None else str(row[0])


def schema_problem_at(database_url: str) -> str | None:
    """Why a process may not run on the database at ``database_url`` (None: it may). The
    driver's own errors (unreachable, refused) propagate."""

    async def read() -> str | None:
        db = Database(database_url)
        try:
            return await stored_revision(db)
        finally:
            await db.dispose()

    revision = asyncio.run(read())
    if revision == HEAD_REVISION:
        return None
    from ils.domain.migrate import schema_problem

    return schema_problem(revision)
