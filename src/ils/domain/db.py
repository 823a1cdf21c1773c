"""The database: an async engine and session factory from ``DATABASE_URL``.

Default (zero setup): a SQLite file under ``<var>/ils.db``; production: PostgreSQL
(``postgresql://...`` is taken to mean the asyncpg driver). One :class:`Database` per process,
built by a factory; no module-level engine. The engine is made (and SQLAlchemy imported) at its
first use: a worker whose jobs have not needed the database yet reads what it must through the
driver alone (:attr:`Database.direct`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ils.domain.checkpoints import Checkpointer
from ils.domain.dbapi import DirectReader, dialect_of, sqlite_path
from ils.errors import ConfigurationError
from ils.queue.vardir import create_private_file

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker


def conflict_insert(dialect: str) -> Any:
    """The ``insert`` of ``dialect`` (``sqlite``, else PostgreSQL's) that knows ``ON CONFLICT``;
    imported here, where the engine has loaded that dialect already, so a process on SQLite never
    loads PostgreSQL's."""
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert
    from sqlalchemy.dialects.postgresql import insert as postgresql_insert

    return postgresql_insert


def upsert_by_job(dialect: str, model: Any, columns: Sequence[str]) -> Any:
    """``model``'s row for a job: insert it with ``columns`` (bound parameters of those names
    and ``job_id``), or bring up to date the row an earlier run of the job left, returning its
    id; one statement either way (``model.job_id`` is unique)."""
    from sqlalchemy import bindparam

    statement = conflict_insert(dialect)(model).values(
        job_id=bindparam("job_id"), **{name: bindparam(name) for name in columns}
    )
    return statement.on_conflict_do_update(
        index_elements=[model.job_id],
        set_={name: statement.excluded[name] for name in columns},
    ).returning(model.id)


def database_url(env: Mapping[str, str], var_dir: Path) -> str:
    """``DATABASE_URL`` with its async driver, or the default SQLite file under ``var_dir``."""
    raw = env.get("DATABASE_URL")
    if not raw:
        return f"sqlite+aiosqlite:///{(var_dir / 'ils.db').resolve()}"
    from sqlalchemy.engine import make_url

    try:
        url = make_url(raw)
    except Exception as exc:
        raise ConfigurationError(f"DATABASE_URL is not a database URL: {exc}") from exc
    driver = {
        "postgres": "postgresql+asyncpg",
        "postgresql": "postgresql+asyncpg",
        "postgresql+psycopg": "postgresql+asyncpg",
        "sqlite": "sqlite+aiosqlite",
    }.get(url.drivername, url.drivername)
    if driver not in ("postgresql+asyncpg", "sqlite+aiosqlite"):
        raise ConfigurationError(
            f"DATABASE_URL: unsupported database {url.drivername!r}; use postgresql:// or sqlite://"
        )
    return url.set(drivername=driver).render_as_string(hide_password=False)


class Database:
    """One database: its engine and the sessions made from it, both made at first use.

    ``schema`` (PostgreSQL only) puts every table in that schema through the search path; the
    tests use it to give each run a schema of its own.
    """

    def __init__(self, url: str, schema: str | None = None, echo: bool = False) -> None:
        self.url = url
        self.schema = schema
        self.echo = echo
        self.dialect = dialect_of(url)
        path = sqlite_path(url)
        if path is not None:
            # Patient data: made 0600 before SQLite opens it (its -wal and -shm files take the
            # database file's mode), in a 0700 folder.
            create_private_file(path)
        self.checkpointer: Checkpointer | None = Checkpointer(path) if path else None
        self.direct = DirectReader(url, schema)
        self._engine: AsyncEngine | None = None
        self._sessions: async_sessionmaker[AsyncSession] | None = None
        # What every session starts with in its ``info``, whenever the sessions are made (the
        # job system names its producer here: ils.queue.producer.bind_producer).
        self.session_info: dict[str, Any] = {}

    @property
    def built(self) -> bool:
        """Whether the engine has been made (SQLAlchemy is loaded)."""
        return self._engine is not None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            self._engine = self._make_engine()
        return self._engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        if self._sessions is None:
            from sqlalchemy.ext.asyncio import async_sessionmaker

            # The info dict itself, not a copy: what is named in it later applies too.
            self._sessions = async_sessionmaker(
                self.engine, expire_on_commit=False, info=self.session_info
            )
        return self._sessions

    def _make_engine(self) -> AsyncEngine:
        from sqlalchemy import event
        from sqlalchemy.ext.asyncio import create_async_engine

        kwargs: dict[str, Any] = {"echo": self.echo, "pool_pre_ping": not self.is_sqlite}
        if self.is_sqlite:
            # SQLite has one writer at a time, and a writer kept waiting by another connection
            # of this process polls with sleeps of up to 100 ms. One connection per process
            # makes transactions queue in asyncio instead, woken the moment the last one ends.
            # No ping before each use: a file's connection does not drop (each ping was a round
            # trip through the driver's thread, twice per job).
            kwargs |= {"pool_size": 1, "max_overflow": 0, "pool_timeout": 60}
        elif self.schema:
            kwargs["connect_args"] = {"server_settings": {"search_path": self.schema}}
        engine = create_async_engine(self.url, **kwargs)
        if self.is_sqlite:
            event.listen(engine.sync_engine, "connect", self._sqlite_pragmas)
        return engine

    def _sqlite_pragmas(self, dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=5000")
        if self.checkpointer is not None and self.checkpointer.running:
            cur.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer's job meanwhile
        cur.close()

    async def start_background(self) -> None:
        """Start the SQLite checkpointer (long-running processes); nothing on PostgreSQL."""
        if self.checkpointer is None or self.checkpointer.running:
            return
        self.checkpointer.start()
        if self._engine is not None:
            # Connections opened from now on leave checkpoints to it: open them anew.
            await self._engine.dispose()

    async def stop_background(self) -> None:
        if self.checkpointer is not None and self.checkpointer.running:
            await self.checkpointer.stop()
            if self._engine is not None:
                await self._engine.dispose()  # back to SQLite's own checkpoints

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    @property
    def sync_engine(self) -> Engine:
        return self.engine.sync_engine

    @contextlib.asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session in a transaction: committed on success, rolled back on error."""
        async with self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.stop_background()
        await self.direct.close()
        if self._engine is not None:
            await self._engine.dispose()
