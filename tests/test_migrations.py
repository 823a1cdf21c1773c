"""The migrations on SQLite and PostgreSQL: a fresh database (or schema) migrated to head has
exactly the models' schema, reports head, and downgrades to nothing; the ``ils db`` commands."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import typer
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from typer.testing import CliRunner

import ils.domain.models  # noqa: F401  (every table in Base.metadata)
from ils.domain.base import Base
from ils.domain.cli_db import db_app
from ils.domain.db import Database
from ils.domain.migrate import (
    alembic_config,
    current,
    current_revision,
    downgrade_database,
    head,
    upgrade,
    upgrade_database,
)
from ils.domain.migrations import HEAD_REVISION
from ils.domain.models.schedules import DEFAULT_SCHEDULES, PLATFORM_SCHEDULES
from ils.domain.schema_check import stored_revision
from ils.queue.outbox_table import outbox_metadata
from tests.support.databases import BACKENDS, open_database

TARGETS = [Base.metadata, outbox_metadata]


@pytest.fixture(params=BACKENDS)
async def empty(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """A database of this test's own with no tables at all (SQLite file or PostgreSQL schema)."""
    (tmp_path / "empty").mkdir()
    async for database in open_database(request.param, tmp_path / "empty", create=False):
        yield database


async def models_database(backend: str, tmp_path: Path) -> AsyncIterator[Database]:
    (tmp_path / "models").mkdir()
    async for database in open_database(backend, tmp_path / "models", create=True):
        yield database


def differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, TARGETS))  # type: ignore[arg-type]


def fingerprint(connection: Connection) -> dict[str, Any]:
    """Everything reflection sees of each table, including what Alembic does not compare
    (CHECK constraints, ON DELETE rules, constraint names, column order)."""
    inspector = inspect(connection)
    tables: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        if table == "alembic_version":
            continue
        tables[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c.get("default"))
                for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table),
            "fks": sorted(
                (
                    fk["name"],
                    tuple(fk["constrained_columns"]),
                    fk["referred_table"],
                    tuple(fk["referred_columns"]),
                    tuple(sorted(fk["options"].items())),
                )
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), i["unique"])
                for i in inspector.get_indexes(table)
            ),
            "uniques": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                (c["name"], c["sqltext"]) for c in inspector.get_check_constraints(table)
            ),
        }
    return tables


async def test_a_fresh_database_migrates_to_exactly_the_models(
    empty: Database, tmp_path: Path
) -> None:
    assert await current_revision(empty) is None
    await upgrade_database(empty)
    assert await current_revision(empty) == head() == "0011"
    async with empty.engine.connect() as conn:
        assert await conn.run_sync(differences) == []
        migrated = await conn.run_sync(fingerprint)
    backend = "sqlite" if empty.is_sqlite else "postgresql"
    async for reference in models_database(backend, tmp_path):
        async with reference.engine.connect() as conn:
            created = await conn.run_sync(fingerprint)
    assert (
        set(migrated) == set(created) == {*Base.metadata.tables, "job_outbox", "job_dead_letters"}
    )
    for table in created:
        assert migrated[table] == created[table], table
    checks = {name for name, _sql in migrated["order_lines"]["checks"]}
    assert "ck_order_lines_quantity_positive" in checks


async def test_the_comparison_notices_drift(empty: Database) -> None:
    await upgrade_database(empty)
    async with empty.engine.begin() as conn:
        await conn.execute(text("DROP INDEX ix_orders_company_status"))
        found = await conn.run_sync(differences)
    assert [d[0] for d in found] == ["add_index"]
    assert found[0][1].name == "ix_orders_company_status"


async def test_upgrade_twice_is_a_no_op_and_downgrade_removes_every_table(
    empty: Database,
) -> None:
    assert await stored_revision(empty) is None
    await upgrade_database(empty)
    await upgrade_database(empty)
    assert await current_revision(empty) == head()
    # The start-up check reads the same revision without Alembic, and knows the head.
    assert await stored_revision(empty) == head() == HEAD_REVISION
    await downgrade_database(empty, "base")
    assert await current_revision(empty) is None
    assert await stored_revision(empty) is None
    async with empty.engine.connect() as conn:
        names = await conn.run_sync(lambda c: inspect(c).get_table_names())
    assert names == ["alembic_version"]


async def test_0007_gives_each_trading_company_its_schedules_and_the_platform_its_own(
    empty: Database,
) -> None:
    await upgrade_database(empty, "0006")
    async with empty.engine.begin() as conn:
        for slug, kind in (("ils", "platform"), ("shop", "practice"), ("lab", "lab")):
            await conn.execute(text(
                "INSERT INTO companies (name, slug, kind, timezone, brand_color, created_at)"
                " VALUES (:slug, :slug, :kind, 'UTC', '#000000', CURRENT_TIMESTAMP)"
            ), {"slug": slug, "kind": kind})  # fmt: skip
    await upgrade_database(empty)
    async with empty.engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT c.slug, s.job_type, s.cron, s.missed_run, s.enabled FROM schedules s"
            " LEFT JOIN companies c ON c.id = s.company_id ORDER BY s.id"
        ))).all()  # fmt: skip
        active = (await conn.execute(text("SELECT DISTINCT is_active FROM companies"))).all()
    company = {(slug, job, cron) for slug, job, cron, _m, _e in rows if slug}
    assert company == {(slug, job, cron) for slug in ("shop", "lab")
                       for _name, job, cron in DEFAULT_SCHEDULES}  # fmt: skip
    platform = {(job, cron, missed) for slug, job, cron, missed, _e in rows if slug is None}
    assert platform == {(job, cron, missed) for _n, job, cron, missed in PLATFORM_SCHEDULES}
    assert all(enabled for *_, enabled in rows) and [tuple(a) for a in active] == [(True,)]


def test_sync_upgrade_and_current_by_url(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'nested' / 'ils.db'}"
    assert current(url) is None
    upgrade(url)
    assert current(url) == head()


def test_offline_mode_writes_the_sql() -> None:
    config = alembic_config("postgresql+asyncpg://ils@localhost/ils")
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    sql = config.output_buffer.getvalue()
    assert "CREATE TABLE orders" in sql
    assert "CONSTRAINT ck_order_lines_quantity_positive CHECK (quantity > 0)" in sql
    assert "CREATE TABLE job_outbox" in sql
    assert "INSERT INTO schedules" in sql


def test_db_commands_upgrade_and_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATABASE_URL", raising=False)
    env = {"ILS_VAR_DIR": str(tmp_path / "var")}
    runner = CliRunner()
    app = typer.Typer()
    app.add_typer(db_app, name="db")  # as src/ils/cli.py registers it
    before = runner.invoke(app, ["db", "current", "--check"], env=env)
    assert before.exit_code == 1
    assert "not migrated" in before.output
    done = runner.invoke(app, ["db", "upgrade"], env=env)
    assert done.exit_code == 0, done.output
    assert "ils.db: at revision 0011" in done.output
    after = runner.invoke(app, ["db", "current", "--check"], env=env)
    assert after.exit_code == 0
    assert "0011 (head)" in after.output
    assert (tmp_path / "var" / "ils.db").exists()
