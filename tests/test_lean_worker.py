"""A worker loads the code of what it runs: ``ils worker --queues notification`` imports neither
the web app (FastAPI, Starlette, uvicorn) nor the migrations (Alembic), nor the libraries of other
queues' resources (reportlab, Jinja2, httpx), nor the table printer (rich), nor code its first
job would load (the PDF loaders, which configure every ORM mapper) or its database does not use
(PostgreSQL's dialect on SQLite). Read from Python's own import log (``PYTHONPROFILEIMPORTTIME``)
of a real worker process, from launch to ready."""

from __future__ import annotations

from tests.support.processes import IlsProcess

WEB_AND_MIGRATIONS = {"fastapi", "starlette", "uvicorn", "alembic"}
OTHER_QUEUES_AND_TABLES = {"reportlab", "jinja2", "httpx", "rich"}
NOT_BEFORE_THE_FIRST_JOB = {"ils.jobs.pdf.load", "sqlalchemy.dialects.postgresql"}
# The schedules' reconciler and service: loaded by a worker of the scheduled queue only (the
# ``ils schedule`` commands' module is a few lines of options, like ``ils queue``'s).
NOT_WITHOUT_THE_SCHEDULED_QUEUE = {"ils.jobs.scheduled.reconcile", "ils.domain.services.schedules"}


async def test_a_notification_worker_loads_neither_the_web_app_nor_the_migrations(
    worker_env: dict[str, str],
):
    # On the var directory's migrated SQLite database, whatever the environment names.
    env = {k: v for k, v in worker_env.items() if k != "DATABASE_URL"}
    env |= {"PYTHONPROFILEIMPORTTIME": "1"}
    worker = await IlsProcess(["worker", "--queues", "notification"], env).start()
    try:
        # Everything imported on the way to ready was logged before the ready line.
        await worker.wait_for_line("ready: worker", timeout_s=90)
    finally:
        await worker.kill()
    modules = {
        line.rsplit("|", 1)[1].strip()
        for line in worker.lines
        if line.startswith("import time:") and "|" in line
    }
    loaded = {name.split(".")[0] for name in modules}
    assert {"bullmq", "ils"} <= loaded  # the log is read right
    assert "ils.jobs.notification.channel" in modules  # its handlers were imported
    assert loaded.isdisjoint(WEB_AND_MIGRATIONS), loaded & WEB_AND_MIGRATIONS
    assert loaded.isdisjoint(OTHER_QUEUES_AND_TABLES), loaded & OTHER_QUEUES_AND_TABLES
    assert modules.isdisjoint(NOT_BEFORE_THE_FIRST_JOB), modules & NOT_BEFORE_THE_FIRST_JOB
    assert modules.isdisjoint(NOT_WITHOUT_THE_SCHEDULED_QUEUE), (
        modules & NOT_WITHOUT_THE_SCHEDULED_QUEUE
    )
