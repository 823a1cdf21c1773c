"""The database layer on both backends: exact money, UTC timestamps, URL handling."""

from __future__ import annotations

import asyncio
import datetime as dt
import sqlite3
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from ils.domain.checkpoints import Checkpointer
from ils.domain.db import Database, database_url
from ils.domain.enums import CompanyKind, Role
from ils.domain.models.accounts import Company, User
from ils.domain.models.types import to_money
from ils.errors import ConfigurationError


async def test_companies_and_users_round_trip(db: Database):
    async with db.session() as s:
        company = Company(
            name="Clear Sight Opticians", slug="clear-sight", kind=CompanyKind.practice
        )
        s.add(company)
        await s.flush()
        s.add(User(company_id=company.id, email="a@clear.example", name="Ann",
                   password_hash="x", role=Role.optometrist))  # fmt: skip
    async with db.session() as s:
        user = (await s.execute(select(User))).scalar_one()
        assert user.role is Role.optometrist
        assert user.created_at.tzinfo is not None
        assert user.created_at <= dt.datetime.now(dt.UTC)


def test_money_is_rounded_half_up_to_the_cent():
    assert to_money("2.675") == Decimal("2.68")
    assert to_money(Decimal("0.005")) == Decimal("0.01")
    assert str(to_money(3)) == "3.00"


def test_database_url_defaults_to_sqlite_under_var_and_takes_postgres(tmp_path: Path):
    assert database_url({}, tmp_path) == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'ils.db'}"
    pg = database_url({"DATABASE_URL": "postgresql://u:p@db:5432/ils"}, tmp_path)
    assert pg == "postgresql+asyncpg://u:p@db:5432/ils"
    with pytest.raises(ConfigurationError, match="unsupported database 'mysql'"):
        database_url({"DATABASE_URL": "mysql://x/y"}, tmp_path)


async def test_sqlite_checkpoints_move_to_the_background_while_a_process_runs(tmp_path: Path):
    from sqlalchemy import text

    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'wal.db'}")
    try:

        async def autocheckpoint() -> int:
            async with db.session() as s:
                return int((await s.execute(text("PRAGMA wal_autocheckpoint"))).scalar_one())

        assert await autocheckpoint() == 1000  # SQLite's own, for one-shot commands
        await db.start_background()
        assert db.checkpointer is not None and db.checkpointer.running
        assert await autocheckpoint() == 0  # left to the checkpointer
        async with db.session() as s:
            await s.execute(text("CREATE TABLE t (x INTEGER)"))
            for i in range(200):
                await s.execute(text("INSERT INTO t VALUES (:x)"), {"x": i})
        busy, frames, copied = db.checkpointer.checkpoint()
        assert busy == 0 and frames > 0 and copied == frames  # all of the log copied back
        await db.stop_background()
        assert not db.checkpointer.running
        assert await autocheckpoint() == 1000
    finally:
        await db.dispose()


async def test_stopping_waits_for_a_checkpoint_still_running_in_its_thread(tmp_path: Path):
    """Cancelling the task leaves a checkpoint running in its thread; the final checkpoint and
    the close must wait for it (two threads in one connection crashed the process)."""
    path = tmp_path / "wal.db"
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("CREATE TABLE t (x)")
    checkpointer = Checkpointer(path)
    checkpointer.checkpoint()
    checkpointer.start()
    in_flight = threading.Event()
    release = threading.Event()

    def a_checkpoint_in_flight() -> None:
        with checkpointer._lock:  # what a running checkpoint holds
            in_flight.set()
            release.wait(10)

    holder = asyncio.get_running_loop().run_in_executor(None, a_checkpoint_in_flight)
    assert await asyncio.to_thread(in_flight.wait, 10)
    stopping = asyncio.create_task(checkpointer.stop())
    done, _ = await asyncio.wait({stopping}, timeout=0.2)
    assert not done and checkpointer._conn is not None  # waiting, the connection still open
    release.set()
    await holder
    await asyncio.wait_for(stopping, 10)
    assert checkpointer._conn is None and not checkpointer.running


async def test_postgresql_needs_no_checkpointer(db: Database):
    await db.start_background()  # a no-op there; on SQLite it starts one
    assert (db.checkpointer is None) == (not db.is_sqlite)
    await db.stop_background()
