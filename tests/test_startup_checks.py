"""``ils worker`` and ``ils serve`` refuse to start on a database that is not at the newest
migration (never migrated, or an upgrade pending), with one line naming ``ils db upgrade`` and
a non-zero exit, on SQLite and on PostgreSQL; once migrated, they start."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ils.domain.migrate import head, upgrade
from ils.queue.embedded import free_port
from tests.support.databases import BACKENDS, PG_URL, pg_answers
from tests.support.processes import IlsProcess

COMMANDS = (["worker", "--queues", "oma"], ["serve", "--no-workers", "--port", "0"])


@pytest.fixture(params=BACKENDS)
async def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """The URL of an empty database of this test's own: a SQLite file, or a PostgreSQL
    database (not a schema: the ``ils`` subprocess knows only ``DATABASE_URL``)."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
        return
    if not await pg_answers():
        pytest.skip(f"PostgreSQL does not answer at {PG_URL}")
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(PG_URL, isolation_level="AUTOCOMMIT")
    async with admin.connect() as conn:
        await conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        async with admin.connect() as conn:
            await conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        await admin.dispose()


async def refusal(args: list[str], env: dict[str, str]) -> tuple[int, list[str]]:
    process = await IlsProcess(args, env).start()
    code = await process.wait(60)
    return code, [line for line in process.output.splitlines() if line.strip()]


async def test_worker_and_serve_refuse_an_unmigrated_or_outdated_database(
    fresh_url: str, worker_env: dict[str, str], tmp_path: Path
):
    env = worker_env | {"DATABASE_URL": fresh_url, "ILS_VAR_DIR": str(tmp_path / "other")}
    newest = head()
    for args in COMMANDS:
        code, lines = await refusal(args, env)
        assert code != 0
        assert lines == [
            f"error: the database is not migrated (the code needs {newest}): run `ils db upgrade`"
        ], lines

    await _upgrade(fresh_url, "0002")  # an upgrade pending: the code needs a newer schema
    for args in COMMANDS:
        code, lines = await refusal(args, env)
        assert code != 0
        assert lines == [
            f"error: the database is at revision 0002, the code needs {newest}: "
            "run `ils db upgrade`"
        ], lines

    await _upgrade(fresh_url, "head")
    worker = await IlsProcess(["worker", "--queues", "oma"], env).start()
    try:  # it starts; stopping it is another test's subject
        await worker.wait_for_line("background job workers active")
    finally:
        await worker.kill()
    web = await IlsProcess(["serve", "--no-workers", "--port", str(free_port())], env).start()
    try:
        await web.wait_for_line("Uvicorn running on")
    finally:
        await web.kill()


async def _upgrade(url: str, revision: str) -> None:
    await asyncio.to_thread(upgrade, url, revision)  # Alembic is synchronous


async def test_an_unreachable_database_is_one_line_too(worker_env: dict[str, str]):
    dead = f"postgresql://nobody@127.0.0.1:{free_port()}/none"
    code, lines = await refusal(["worker"], worker_env | {"DATABASE_URL": dead})
    assert code != 0
    assert len(lines) == 1 and lines[0].startswith(
        "error: cannot read the database's migration revision:"
    ), lines
