"""Fresh test databases without paying for their DDL each time: a SQLite file copied from one
made once per test process, and PostgreSQL schemas handed from one test to the next, emptied.

Creating two dozen tables and fifty indexes in PostgreSQL costs most of a second; deleting the
rows of near-empty tables a few milliseconds. So a schema a test is done with is emptied (every
row deleted, every sequence restarted: what a new schema holds) and kept for the next test of
this process, unless it may have changed shape: when any DDL (CREATE, ALTER, DROP, ...) went
through SQLAlchemy in this process while the test held it, or it no longer records the revision
it was made with, it is dropped as before. So is a schema that cannot be emptied at once (a lock
still held). Names are unique, so parallel test processes never share a schema;
:meth:`SchemaPool.close` drops what is left when the session ends.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from ils.domain.base import Base
from ils.domain.db import Database
from ils.queue.outbox_table import outbox_metadata

CreateSchema = Callable[[Database], Awaitable[None]]
DDL = re.compile(
    r"\s*(CREATE|ALTER|DROP|TRUNCATE|RENAME|COMMENT|GRANT|REVOKE|REINDEX|CLUSTER|SECURITY)\b",
    re.IGNORECASE,
)


class _DdlCounter:
    """How many DDL statements any engine of this process has sent so far."""

    def __init__(self) -> None:
        self.count = 0

    def note(self, _conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if DDL.match(statement):
            self.count += 1


DDL_SEEN = _DdlCounter()
event.listen(Engine, "before_cursor_execute", DDL_SEEN.note)


def _tables_children_first() -> list[str]:
    tables = [*Base.metadata.sorted_tables, *outbox_metadata.sorted_tables]
    return [table.name for table in reversed(tables)]


class SchemaPool:
    """Clean PostgreSQL schemas of this test process, and the SQLite file new test databases
    are copied from."""

    def __init__(self) -> None:
        self.clean: list[str] = []
        self.revision: dict[str, str | None] = {}  # schema -> the revision it was made with
        self.taken: dict[str, int] = {}  # schema -> the DDL count when a test took it
        self.pg_answered = False
        self._template_dir: Path | None = None

    # -- SQLite ------------------------------------------------------------------------------

    async def sqlite_template(self, create_schema: CreateSchema) -> Path:
        """A SQLite file made by ``create_schema`` once per process."""
        if self._template_dir is None:
            folder = Path(tempfile.mkdtemp(prefix="ils-test-template-"))
            db = Database(f"sqlite+aiosqlite:///{folder / 'template.db'}")
            try:
                await create_schema(db)
            finally:
                await db.dispose()  # the last connection out checkpoints: no -wal file left
            self._template_dir = folder
        return self._template_dir / "template.db"

    # -- PostgreSQL --------------------------------------------------------------------------

    async def take(self, url: str, create_schema: CreateSchema) -> str:
        """The name of a clean schema with every table: one a test left, else a new one."""
        if self.clean:
            name = self.clean.pop()
        else:
            name = f"t_{uuid.uuid4().hex[:12]}"
            admin = create_async_engine(url, poolclass=NullPool)
            try:
                async with admin.begin() as conn:
                    await conn.execute(text(f'CREATE SCHEMA "{name}"'))
                db = Database(url, schema=name)
                try:
                    await create_schema(db)
                finally:
                    await db.dispose()
                self.revision[name] = await self._revision(admin, name)
            finally:
                await admin.dispose()
        self.taken[name] = DDL_SEEN.count
        return name

    async def give_back(self, url: str, name: str) -> None:
        """Empty the schema for the next test, or drop it if it may have changed or is locked."""
        untouched = DDL_SEEN.count == self.taken.pop(name, None)
        admin = create_async_engine(url, poolclass=NullPool)
        try:
            if untouched and await self._empty(admin, name, self.revision.get(name)):
                self.clean.append(name)
                return
            self.revision.pop(name, None)
            async with admin.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        finally:
            await admin.dispose()

    @staticmethod
    async def _revision(admin: AsyncEngine, name: str) -> str | None:
        async with admin.connect() as conn:
            found = await conn.scalar(
                text(f'SELECT min(version_num) FROM "{name}".alembic_version')
            )
        return None if found is None else str(found)

    @staticmethod
    async def _empty(admin: AsyncEngine, name: str, revision: str | None) -> bool:
        """Delete every row and restart every sequence, in one transaction and one round trip,
        if the schema still records ``revision``; False when it does not, or when a lock held
        elsewhere keeps this from happening at once."""
        deletes = "".join(f'DELETE FROM "{name}"."{table}";' for table in _tables_children_first())
        restarts = (
            "SELECT setval(c.oid, s.seqstart, false) FROM pg_sequence s "
            "JOIN pg_class c ON c.oid = s.seqrelid "
            f"JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{name}';"
        )
        try:
            async with admin.begin() as conn:
                await conn.execute(text("SET LOCAL lock_timeout = '2s'"))
                found = await conn.scalar(
                    text(f'SELECT min(version_num) FROM "{name}".alembic_version')
                )
                if found != revision:
                    return False
                raw = await conn.get_raw_connection()
                await raw.driver_connection.execute(deletes + restarts)
        except Exception:
            return False
        return True

    async def close(self, url: str) -> None:
        """Drop the schemas kept for later tests and the SQLite template."""
        if self._template_dir is not None:
            shutil.rmtree(self._template_dir, ignore_errors=True)
            self._template_dir = None
        if not self.clean:
            return
        admin = create_async_engine(url, poolclass=NullPool)
        try:
            async with admin.begin() as conn:
                for name in self.clean:
                    await conn.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        finally:
            self.clean.clear()
            await admin.dispose()
