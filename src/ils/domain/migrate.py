"""Alembic configured in code: upgrade (or downgrade) a database and report its revision.

There is no alembic.ini; the scripts live in the ``ils.domain.migrations`` package. The async
functions run on a :class:`Database`'s own engine, so a PostgreSQL schema given to it is used.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection

from ils.domain.db import Database

SCRIPT_LOCATION = "ils.domain:migrations"
T = TypeVar("T")


def alembic_config(database_url: str | None = None) -> Config:
    """An Alembic config for the ILS migrations; ``database_url`` for Alembic's own commands."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if database_url:
        # ConfigParser interpolation: a literal % (e.g. in a password) must be doubled.
        config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def head() -> str:
    """The newest revision of the migration scripts."""
    revision = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if revision is None:  # pragma: no cover - the package always ships 0001
        raise LookupError("no migration scripts found")
    return revision


def _run_command(connection: Connection, action: Callable[[Config], None]) -> None:
    config = alembic_config()
    config.attributes["connection"] = connection
    action(config)


async def upgrade_database(db: Database, revision: str = "head") -> None:
    """Migrate ``db`` up to ``revision`` in one transaction on its engine."""
    async with db.engine.begin() as connection:
        await connection.run_sync(_run_command, lambda config: command.upgrade(config, revision))


async def downgrade_database(db: Database, revision: str) -> None:
    """Migrate ``db`` down to ``revision`` (``"base"``: drop every table)."""
    async with db.engine.begin() as connection:
        await connection.run_sync(_run_command, lambda config: command.downgrade(config, revision))


def _current_on(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    """The revision ``db`` is at; ``None`` when it was never migrated."""
    async with db.engine.connect() as connection:
        return await connection.run_sync(_current_on)


def _known(revision: str) -> bool:
    try:
        return ScriptDirectory.from_config(alembic_config()).get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for ids it has never seen
        return False


def schema_problem(revision: str | None) -> str | None:
    """Why a process may not run on a database at ``revision`` (None: it may): a worker on an
    unmigrated or older schema would fail every job that touches a missing table or column."""
    newest = head()
    if revision == newest:
        return None
    if revision is None:
        return f"the database is not migrated (the code needs {newest}): run `ils db upgrade`"
    if not _known(revision):
        return (
            f"the database is at revision {revision}, which this version of ILS does not know "
            "(a newer version migrated it): run that version, or downgrade the database"
        )
    return f"the database is at revision {revision}, the code needs {newest}: run `ils db upgrade`"


def _with_database(
    database_url: str, schema: str | None, action: Callable[[Database], Awaitable[T]]
) -> T:
    async def run() -> T:
        db = Database(database_url, schema=schema)
        try:
            return await action(db)
        finally:
            await db.dispose()

    return asyncio.run(run())


def upgrade(database_url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Migrate the database at ``database_url`` (async driver URL) up to ``revision``."""
    _with_database(database_url, schema, lambda db: upgrade_database(db, revision))


def downgrade(database_url: str, revision: str, *, schema: str | None = None) -> None:
    """Migrate the database at ``database_url`` down to ``revision``."""
    _with_database(database_url, schema, lambda db: downgrade_database(db, revision))


def current(database_url: str, *, schema: str | None = None) -> str | None:
    """The revision the database at ``database_url`` is at; ``None`` when never migrated."""
    return _with_database(database_url, schema, current_revision)
