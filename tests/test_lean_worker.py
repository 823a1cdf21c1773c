"""A worker loads the code of what it runs: ``ils worker --queues notification`` imports neither
the web app (FastAPI, Starlette, uvicorn) nor the migrations (Alembic), nor the libraries of other
queues' resources (reportlab, Jinja2, httpx), nor the command-line libraries (typer, click, rich),
nor code its first job would load: SQLAlchemy and its drivers, the ORM models, the outbox's
storage (the relay's probe asks the database's own driver until a row is there), the queue admin.
Read from Python's own import log (``PYTHONPROFILEIMPORTTIME``) of a real worker process, from
launch to ready. The short way ``ils worker`` takes without typer accepts the options of the typer
command, and leaves anything else (``--help`` among them) to it."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer.main

from ils.cli import app
from ils.cli_worker import OPTIONS, REPEATABLE, WorkerArgs, parse_worker_args
from tests.support.processes import IlsProcess

WEB_AND_MIGRATIONS = {"fastapi", "starlette", "uvicorn", "alembic"}
OTHER_QUEUES_AND_TABLES = {"reportlab", "jinja2", "httpx"}
COMMAND_LINE = {"typer", "click", "rich"}
ORM_AND_DRIVERS = {"sqlalchemy", "aiosqlite", "asyncpg", "greenlet"}
NOT_BEFORE_THE_FIRST_JOB = {
    "sqlalchemy.dialects.postgresql",
    "ils.queue.dead_letters",
    "ils.jobs.pdf.load",
    "ils.domain.models",
    "ils.queue.outbox",
    "ils.queue.outbox_table",
    "ils.queue.admin",
}
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
    assert loaded.isdisjoint(COMMAND_LINE), loaded & COMMAND_LINE
    assert loaded.isdisjoint(ORM_AND_DRIVERS), loaded & ORM_AND_DRIVERS
    assert modules.isdisjoint(NOT_BEFORE_THE_FIRST_JOB), modules & NOT_BEFORE_THE_FIRST_JOB
    assert modules.isdisjoint(NOT_WITHOUT_THE_SCHEDULED_QUEUE), (
        modules & NOT_WITHOUT_THE_SCHEDULED_QUEUE
    )


def test_the_short_way_takes_the_typer_commands_options():
    command = typer.main.get_command(app).commands["worker"]  # type: ignore[attr-defined]
    declared = {opt: param for param in command.params for opt in param.opts}
    assert set(declared) == set(OPTIONS)
    assert {opt: param.name for opt, param in declared.items()} == OPTIONS
    assert {opt for opt, param in declared.items() if param.multiple} == REPEATABLE


def test_the_short_way_parses_well_formed_lines_and_leaves_the_rest_to_typer():
    line = ["--queues", "email,pdf", "--import", "a.b", "--import=c", "--config=x.toml",
            "--log-level", "DEBUG"]  # fmt: skip
    assert parse_worker_args(line) == WorkerArgs("email,pdf", ["a.b", "c"], Path("x.toml"), "DEBUG")
    assert parse_worker_args([]) == WorkerArgs()
    for doubtful in (["--help"], ["--queues"], ["--queues", "a", "--queues", "b"], ["--bogus"],
                     ["email"], ["--queues", "-x"], ["--log-level=--help"]):  # fmt: skip
        assert parse_worker_args(doubtful) is None, doubtful


@pytest.mark.parametrize("args", [["worker", "--help"], ["worker", "--bogus"]])
async def test_help_and_bad_options_are_typers(args: list[str], worker_env: dict[str, str]):
    process = await IlsProcess(args, worker_env).start()
    code = await process.wait(60)
    assert "Usage:" in process.output and "worker [OPTIONS]" in process.output
    assert code == (0 if "--help" in args else 2)
