"""A worker loads the code of what it runs: ``ils worker --queues notification`` imports neither
the web app (FastAPI, Starlette, uvicorn) nor the migrations (Alembic), nor the libraries of other
queues' resources (reportlab, Jinja2, httpx), nor the command-line libraries (typer, click, rich),
nor code its first job would load: SQLAlchemy and its drivers, the ORM models, the outbox's
storage (the relay's probe asks the database's own driver until a row is there), the queue admin.
A worker imports the job modules of its own queues only (the registry imports a queue's when
first asked about it), and the resources whose libraries are heavy (the mailer, the PDF and AI
pools, the chat provider) have their settings checked at start and are built by their first job.
Read from the ``sys.modules`` of a real worker process when it logs that it is ready. The short
way ``ils worker`` takes without typer accepts the options of the typer command, and leaves
anything else (``--help`` among them) to it."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import typer.main

from ils.cli import app
from ils.cli_worker import OPTIONS, REPEATABLE, WorkerArgs, parse_worker_args
from ils.jobs import JOB_MODULES, build_registry
from ils.queue.declare import declared_in
from ils.queue.settings import QUEUE_NAMES
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
# The schedules' reconciler and service: loaded by a worker of the scheduled queue only, once its
# workers run (the ``ils schedule`` commands' module is a few lines of options, like ``ils
# queue``'s).
NOT_WITHOUT_THE_SCHEDULED_QUEUE = {"ils.jobs.scheduled.reconcile", "ils.domain.services.schedules"}
# Loaded by the first use, not by a start: the event catalog and envelope (the webhook worker
# validates no event), the JSON log formatter (text logs here), the TOML reader (no file here).
NOT_AT_START = {"ils.events.catalog", "ils.events.envelope", "pythonjsonlogger", "tomllib"}
# What the resources of the email, pdf and ai queues load when built, by their first job.
BUILT_BY_THE_FIRST_JOB = {"jinja2", "aiosmtplib", "reportlab", "PIL", "multiprocessing",
                          "sqlalchemy", "httpx"}  # fmt: skip


# The ``ils`` command, printing its ``sys.modules`` when it logs that it is ready (Python's
# import log misses what ``importlib.import_module`` imports: the job modules among them).
AT_READY = """
import logging, sys
class AtReady(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("ready: worker"):
            print("modules at ready:", " ".join(sorted(sys.modules)), flush=True)
logging.getLogger("ils.worker").addHandler(AtReady())
from ils.cli_worker import main
main()
"""


async def imported_until_ready(args: list[str], worker_env: dict[str, str]) -> set[str]:
    """The modules an ``ils worker`` process holds when it says it is ready."""
    # On the var directory's migrated SQLite database, whatever the environment names.
    env = {k: v for k, v in worker_env.items() if k != "DATABASE_URL"}
    worker = await IlsProcess(["worker", *args], env, entry=("-c", AT_READY)).start()
    try:
        line = await worker.wait_for_line("modules at ready:", timeout_s=90)
    finally:
        await worker.kill()
    return set(line.split(":", 1)[1].split())


async def test_a_notification_worker_loads_neither_the_web_app_nor_the_migrations(
    worker_env: dict[str, str],
):
    modules = await imported_until_ready(["--queues", "notification"], worker_env)
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
    others = {name for name, queues in JOB_MODULES.items() if "notification" not in queues}
    assert modules.isdisjoint(others), modules & others  # other queues' job modules
    assert {"ils.jobs.notification.handlers", "ils.jobs.webhooks.deliver"} <= modules
    assert loaded.isdisjoint(NOT_AT_START) and modules.isdisjoint(NOT_AT_START), (
        loaded | modules
    ) & NOT_AT_START


async def test_a_scheduled_worker_takes_jobs_before_its_schedules_load_the_orm(
    worker_env: dict[str, str],
):
    # The schedules are brought up to date (on SQLAlchemy and the ORM) once the workers run: a
    # missed run they take first follows its schedule's policy as it starts.
    modules = await imported_until_ready(["--queues", "scheduled"], worker_env)
    loaded = {name.split(".")[0] for name in modules}
    assert {"ils.jobs.scheduled.runs", "ils.jobs.scheduled.sync"} <= modules
    assert loaded.isdisjoint(ORM_AND_DRIVERS), loaded & ORM_AND_DRIVERS
    assert modules.isdisjoint(NOT_BEFORE_THE_FIRST_JOB), modules & NOT_BEFORE_THE_FIRST_JOB
    assert modules.isdisjoint(NOT_WITHOUT_THE_SCHEDULED_QUEUE), (
        modules & NOT_WITHOUT_THE_SCHEDULED_QUEUE
    )


async def test_a_worker_checks_its_heavy_resources_settings_and_builds_them_at_first_use(
    worker_env: dict[str, str],
):
    # Every queue (the scheduled one's schedules are brought up to date after the start).
    modules = await imported_until_ready([], worker_env)
    loaded = {name.split(".")[0] for name in modules}
    assert loaded.isdisjoint(BUILT_BY_THE_FIRST_JOB), loaded & BUILT_BY_THE_FIRST_JOB
    # The settings of the mailer and of the chat provider were validated.
    assert {"ils.jobs.email.settings", "ils.jobs.ai.chat.settings"} <= modules
    assert {"ils.jobs.email.mailer", "ils.jobs.pdf.pool", "ils.jobs.ai.pool"}.isdisjoint(modules)


def test_each_job_module_is_listed_under_the_queues_of_the_types_it_defines():
    for name, queues in JOB_MODULES.items():
        module = importlib.import_module(name)
        own = {
            d.job_type.queue for d in declared_in(module) if d.job_type.handler.__module__ == name
        }
        assert set(queues) == own, name


def test_a_registry_loads_a_queue_when_first_asked_about_it():
    everything = build_registry()
    assert len(everything) > 0
    for queue in QUEUE_NAMES:
        lazy = build_registry()
        assert lazy.loaded_types() == []  # nothing imported by building it
        assert {t.key for t in lazy.for_queue(queue)} == {
            t.key for t in everything.for_queue(queue)
        }
        assert {t.queue for t in lazy.loaded_types()} >= {queue}
    lazy = build_registry()
    assert lazy.knows("pdf", "invoice") and len(lazy) == len(everything)


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
