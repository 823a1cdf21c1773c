"""A ``process-oma-file`` worker killed (kill -9) between storing a file's original and its row:
another worker takes the stalled job over and the file ends up stored once, its row once, its
owner told once. The victim is held at that point by a write lock on the SQLite database the
test keeps open (its upsert waits for it), and killed once its original is on disk."""

from __future__ import annotations

import base64
import signal
import sqlite3
from pathlib import Path

from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Notification, OmaFile
from tests.conftest import make_settings
from tests.support.oma_files import job_file
from tests.support.oma_world import make_oma_world
from tests.support.processes import IlsProcess
from tests.support.running import running
from tests.support.waiting import file_appears

LOCKS = {"ILS_QUEUE_OMA_LOCK_DURATION_MS": "2000", "ILS_QUEUE_OMA_STALLED_INTERVAL_MS": "1000"}
READY = "background job workers active"


async def test_a_worker_killed_between_the_original_and_the_row_stores_once(
    redis_url: str, prefix: str, tmp_path: Path, worker_env: dict[str, str]
):
    db_file = tmp_path / "var" / "ils.db"
    env = worker_env | LOCKS | {"ILS_OMA_DIR": str(tmp_path / "drop")}
    db = Database(f"sqlite+aiosqlite:///{db_file}")
    settings = make_settings(redis_url, prefix, tmp_path, env=LOCKS)
    system = JobSystem(settings, database=db)
    victim = await IlsProcess(["worker", "--queues", "oma"], env).start()
    lock = sqlite3.connect(db_file, isolation_level=None, timeout=30)
    try:
        w = await make_oma_world(db)
        await victim.wait_for_line(READY)
        lock.execute("BEGIN IMMEDIATE")  # the victim's upsert now waits (busy timeout 5 s)
        content = base64.b64encode(job_file()).decode()
        job = await system.producer.enqueue(
            "oma", "process-oma-file", {"companyId": w.lab_id, "content": content},
            company_id=w.lab_id,
        )  # fmt: skip
        original = await file_appears(tmp_path / "var" / "files", "*.oma")
        victim.signal(signal.SIGKILL)
        assert await victim.wait() == -signal.SIGKILL
        lock.execute("ROLLBACK")
        assert (await system.admin.get_job("oma", job.job_id)).state == "active"

        async with running(system, "oma", "notification"):
            view = await system.admin.wait_for_job("oma", job.job_id, timeout_s=30)
            assert view.state == "completed", view.failed_reason
            told = await system.admin.wait_for_job(
                "notification", _notice_id(job.job_id), timeout_s=30
            )
            assert told.state == "completed"
        async with db.session() as s:
            assert await s.scalar(select(func.count(OmaFile.id))) == 1
            assert await s.scalar(select(func.count(Notification.id))) == 1
        assert sorted((tmp_path / "var" / "files").rglob("*.oma")) == [original]
        assert original.read_bytes() == job_file()
    finally:
        lock.close()
        await victim.kill()
        await system.close()
        await db.dispose()


def _notice_id(job_id: str) -> str:
    from ils.jobs.oma.process import derived_id

    return derived_id(job_id, "notice-0")
