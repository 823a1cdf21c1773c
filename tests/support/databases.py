"""Test databases: a fresh SQLite file, or a fresh schema in the machine's PostgreSQL.

``ILS_TEST_PG_URL`` overrides where PostgreSQL is; locally a missing server skips the PostgreSQL
variant, under ``CI=true`` it fails instead. With every table made (``create``), the file is a
copy and the schema one an earlier test of this process left, emptied
(:mod:`tests.support.schema_pool`); without, both are new and empty.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

import ils.domain.models  # noqa: F401  (every table on Base.metadata)
from ils.domain.base import Base
from ils.domain.db import Database
from ils.domain.migrate import alembic_config
from ils.queue.outbox_table import outbox_metadata
from ils.queue.vardir import create_private_file
from tests.support.schema_pool import SchemaPool

PG_URL = os.environ.get("ILS_TEST_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
BACKENDS = ("sqlite", "postgresql")
#: This test process's template file and clean schemas (closed by the session's end).
POOL = SchemaPool()


async def pg_answers() -> bool:
    if POOL.pg_answered:  # once it answered, it is not asked again before each test
        return True
    engine = create_async_engine(PG_URL)
    try:
        async with asyncio.timeout(5), engine.connect() as conn:
            await conn.execute(text("select 1"))
        POOL.pg_answered = True
        return True
    except Exception:
        return False
    finally:
        await engine.dispose()


def _stamp_head(connection: Connection) -> None:
    scripts = ScriptDirectory.from_config(alembic_config())
    MigrationContext.configure(connection).stamp(scripts, "head")


async def create_schema(db: Database) -> None:
    """Every table, as the migrations would make them (tests of migrations use Alembic), and
    the newest revision recorded, as ``ils serve`` and ``ils worker`` check it."""
    async with db.engine.begin() as conn:
        await conn.run_sync(Base.metadata.create_all)
        await conn.run_sync(outbox_metadata.create_all)
        await conn.run_sync(_stamp_head)


async def open_database(
    backend: str, tmp_path: Path, create: bool = True
) -> AsyncIterator[Database]:
    """A database of this test's own on ``backend``; dropped afterwards."""
    if backend == "sqlite":
        path = tmp_path / "test.db"
        copied = create and not path.exists()
        if copied:
            create_private_file(path)  # 0600 in a 0700 folder, as ILS makes it
            shutil.copyfile(await POOL.sqlite_template(create_schema), path)
        db = Database(f"sqlite+aiosqlite:///{path}")
        if create and not copied:
            await create_schema(db)  # a file this test made before: add what it lacks
        try:
            yield db
        finally:
            await db.dispose()
        return
    if not await pg_answers():
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL does not answer at {PG_URL}")
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    if create:
        schema = await POOL.take(PG_URL, create_schema)
        db = Database(PG_URL, schema=schema)
        try:
            yield db
        finally:
            await db.dispose()
            await POOL.give_back(PG_URL, schema)
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL)
    async with admin.begin() as conn:
        await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    db = Database(PG_URL, schema=schema)
    try:
        yield db
    finally:
        await db.dispose()
        async with admin.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        await admin.dispose()
