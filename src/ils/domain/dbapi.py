"""Reading the database through its own driver, without SQLAlchemy: the standard library's
``sqlite3`` for SQLite, ``asyncpg`` for PostgreSQL.

What a worker reads before its first job needs the ORM — the start-up revision check, the outbox
relay's probe (:mod:`ils.queue.outbox_probe`) — then costs neither SQLAlchemy's import nor an
engine. The URLs are those :func:`ils.domain.db.database_url` makes (``sqlite+aiosqlite:///path``,
``postgresql+asyncpg://...``); the statements take no parameters, so their text is the same on
both databases.
"""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote

SQLITE_PREFIX = "sqlite+aiosqlite://"
POSTGRESQL_PREFIX = "postgresql+asyncpg://"

Row = tuple[Any, ...]


def dialect_of(url: str) -> str:
    """``sqlite`` or ``postgresql`` (the part of the URL's scheme before the driver)."""
    return url.split("://", 1)[0].split("+", 1)[0]


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL, as SQLAlchemy reads it; None for an in-memory database (and for
    any other database)."""
    if not url.startswith(SQLITE_PREFIX + "/"):
        return None  # "sqlite+aiosqlite://" alone: in memory
    path = unquote(url[len(SQLITE_PREFIX) + 1 :].split("?", 1)[0])
    return Path(path) if path and path != ":memory:" else None


def asyncpg_connect_args(url: str) -> tuple[str, dict[str, str]]:
    """The DSN and keyword arguments for ``asyncpg.connect``: what SQLAlchemy's asyncpg dialect
    passes (the URL's query parameters are keyword arguments, not server settings)."""
    rest, _, query = url[len(POSTGRESQL_PREFIX) :].partition("?")
    return "postgresql://" + rest, dict(parse_qsl(query))


def _sqlite_first_row(path: Path, sql: str) -> Row | None:
    connection = sqlite3.connect(path, timeout=5)
    try:
        row = connection.execute(sql).fetchone()
    finally:
        connection.close()
    return tuple(row) if row is not None else None


class DirectReader:
    """Reads the first row of a statement through the database's driver.

    SQLite: a connection per read, in a thread (opening a file costs next to nothing). PostgreSQL:
    one connection, opened at the first read and kept until :meth:`close` (one per read would
    start a server process every time), dropped after an error so that the next read connects
    anew. ``schema`` (PostgreSQL) is the search path, as :class:`ils.domain.db.Database` sets it.
    """

    def __init__(self, url: str, schema: str | None = None) -> None:
        self.url = url
        self.schema = schema
        self.path = sqlite_path(url)
        self._pg: Any = None  # an asyncpg connection, once opened
        self._lock = asyncio.Lock()  # one statement at a time on that connection

    @property
    def can_read(self) -> bool:
        """False for an in-memory SQLite database: only the engine's own connection sees it."""
        return self.path is not None or self.url.startswith(POSTGRESQL_PREFIX)

    async def first_row(self, sql: str) -> Row | None:
        """The first row ``sql`` returns (None: no row). The driver's errors propagate."""
        if self.path is not None:
            return await asyncio.to_thread(_sqlite_first_row, self.path, sql)
        if not self.url.startswith(POSTGRESQL_PREFIX):
            raise RuntimeError(f"cannot read a {dialect_of(self.url)} database directly")
        async with self._lock:
            try:
                if self._pg is None:
                    self._pg = await self._connect()
                row = await self._pg.fetchrow(sql)
            except BaseException:
                await self._drop()
                raise
        return tuple(row) if row is not None else None

    async def _connect(self) -> Any:
        import asyncpg

        dsn, kwargs = asyncpg_connect_args(self.url)
        settings = {"search_path": self.schema} if self.schema else None
        return await asyncpg.connect(dsn, server_settings=settings, **kwargs)

    async def _drop(self) -> None:
        connection, self._pg = self._pg, None
        if connection is not None:
            try:
                await asyncio.wait_for(connection.close(), 5)
            except Exception:
                connection.terminate()

    async def close(self) -> None:
        """Close the PostgreSQL connection, if one is open (idempotent)."""
        async with self._lock:
            await self._drop()
