"""A worker loads the code of what it runs: ``ils worker --queues notification`` imports neither
the web app (FastAPI, Starlette, uvicorn) nor the migrations (Alembic). Read from Python's own
import log (``PYTHONPROFILEIMPORTTIME``) of a real worker process, from launch to ready."""

from __future__ import annotations

from tests.support.processes import IlsProcess

WEB_AND_MIGRATIONS = {"fastapi", "starlette", "uvicorn", "alembic"}


async def test_a_notification_worker_loads_neither_the_web_app_nor_the_migrations(
    worker_env: dict[str, str],
):
    env = worker_env | {"PYTHONPROFILEIMPORTTIME": "1"}
    worker = await IlsProcess(["worker", "--queues", "notification"], env).start()
    try:
        # Everything imported on the way to ready was logged before the ready line.
        await worker.wait_for_line("ready: worker", timeout_s=90)
    finally:
        await worker.kill()
    loaded = {
        line.rsplit("|", 1)[1].strip().split(".")[0]
        for line in worker.lines
        if line.startswith("import time:") and "|" in line
    }
    assert {"bullmq", "ils"} <= loaded  # the log is read right
    assert loaded.isdisjoint(WEB_AND_MIGRATIONS), loaded & WEB_AND_MIGRATIONS
