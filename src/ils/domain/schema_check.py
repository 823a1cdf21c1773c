"""The start-up check of ``ils serve`` and ``ils worker``: is the database at the revision this
code needs? Answered with one query; Alembic is loaded only to explain a database that is not."""

from __future__ import annotations

import asyncio

from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection

from ils.domain.db import Database
from ils.domain.migrations import HEAD_REVISION

VERSION_TABLE = "alembic_version"


def _read(connection: Connection) -> str | None:
    if not inspect(connection).has_table(VERSION_TABLE):
        return None
    return connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar()


async def stored_revision(db: Database) -> str | None:
    """The revision ``db`` was migrated to; ``None`` when never migrated."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_read)


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
