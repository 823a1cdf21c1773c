"""``ils oma watch`` on a real folder, Redis and SQLite: each file dropped is enqueued once (the
same file dropped again is the same job, stored once), moved to done/ when read and to
rejected/ with its reason when refused; hidden files are left alone; a folder outside the drop
folder is refused. No sleeps: the watcher's ``once`` mode returns when every file is settled."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from ils.cli import app
from ils.cli_oma import watch
from ils.domain.db import Database
from ils.domain.models import OmaFile
from ils.jobs.oma.watch import DropWatcher
from tests.support.oma_files import job_file, truncated
from tests.support.oma_world import make_oma_world
from tests.support.running import running
from tests.test_oma_jobs import QUEUES, oma_system


async def stored(db: Database) -> int:
    async with db.session() as s:
        return int(await s.scalar(select(func.count(OmaFile.id))) or 0)


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)
async def test_dropped_files_are_processed_once_and_moved_by_outcome(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_oma_world(db)
    incoming = tmp_path / "drop" / "incoming"
    incoming.mkdir(parents=True)
    (incoming / "good.oma").write_bytes(job_file())
    (incoming / "bad.oma").write_bytes(truncated())
    (incoming / ".half-written").write_bytes(b"JOB=")
    async with oma_system(redis_url, prefix, tmp_path, db) as system, running(system, *QUEUES):
        once = watch(system, incoming, w.lab_id, 0.05, True, asyncio.Event())
        await asyncio.wait_for(once, 60)
        assert sorted(p.name for p in incoming.iterdir()) == [".half-written", "done", "rejected"]
        assert [p.name for p in (incoming / "done").iterdir()] == ["good.oma"]
        assert sorted(p.name for p in (incoming / "rejected").iterdir()) == [
            "bad.oma", "bad.oma.reason.txt"]  # fmt: skip
        reason = (incoming / "rejected" / "bad.oma.reason.txt").read_text()
        assert "1 validation errors" in reason and "TRCFMT announces 400 points" in reason
        assert await stored(db) == 1

        # The same file dropped again is the same job: moved to done/ again, not stored again.
        (incoming / "done" / "good.oma").rename(incoming / "good.oma")
        await asyncio.wait_for(watch(system, incoming, w.lab_id, 0.05, True, asyncio.Event()), 60)
        assert [p.name for p in (incoming / "done").iterdir()] == ["good.oma"]
        assert await stored(db) == 1
    [row] = await rows_of(db)
    assert row.path.endswith(".oma") and row.filename == "good.oma"


async def rows_of(db: Database) -> list[OmaFile]:
    async with db.session() as s:
        return list(await s.scalars(select(OmaFile)))


async def test_a_folder_outside_the_drop_folder_is_refused(tmp_path: Path):
    async def never(*_: object) -> None:
        raise AssertionError("nothing to enqueue")

    with pytest.raises(ValueError, match="is not inside the OMA drop folder"):
        DropWatcher(tmp_path / "drop", tmp_path / "elsewhere", never, never)  # type: ignore[arg-type]
    (tmp_path / "elsewhere").mkdir()
    result = CliRunner().invoke(
        app, ["oma", "watch", str(tmp_path / "elsewhere"), "--company", "1"],
        env={"ILS_OMA_DIR": str(tmp_path / "drop"), "ILS_VAR_DIR": str(tmp_path / "var")},
    )  # fmt: skip
    assert result.exit_code == 2  # a usage error, like the other commands'
    assert "is not inside the OMA drop folder" in result.output
