"""The ``ils`` command's typer app: serve the app, run workers, inspect queues, manage the
embedded server.

Every command builds its settings with :func:`ils.settings.load_settings` (its options are the
last source) and imports what it runs inside its body: a worker of one queue, or ``ils queue
stats``, loads neither the web app, nor the migrations, nor the other queues' code. The ``ils``
command starts in :mod:`ils.cli_worker`, which runs a well-formed ``ils worker`` line without
this app (and typer); everything else comes here.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ils.cli_base import configure_logging, fail, ready_to_run, settings_for
from ils.cli_common import ConfigOpt, LogOpt
from ils.cli_dlq import dlq_app
from ils.cli_events import events_app
from ils.cli_flows import batch_app, flow_app
from ils.cli_oma import oma_app
from ils.cli_queue import queue_app
from ils.cli_schedule import schedule_app
from ils.cli_worker import MAX_PROCESSES, run_worker
from ils.domain.cli_db import db_app, demo_app
from ils.errors import IlsJobsError
from ils.queue.vardir import restrict_umask

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem
    from ils.queue.embedded import EmbeddedServer

app = typer.Typer(help="ILS Jobs: background jobs of the Integrated Lens System.")
embedded_app = typer.Typer(help="The embedded Redis-compatible server (when REDIS_URL is unset).")
app.add_typer(queue_app, name="queue")
app.add_typer(batch_app, name="batch")
app.add_typer(flow_app, name="flow")
app.add_typer(schedule_app, name="schedule")
app.add_typer(dlq_app, name="dlq")
app.add_typer(events_app, name="events")
app.add_typer(oma_app, name="oma")
app.add_typer(embedded_app, name="embedded")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")


@app.callback()
def _private_files() -> None:
    """Whatever any command creates (database, PDFs, mail, the embedded server's files) is
    private to this user; the writers set modes explicitly too, this catches the rest."""
    restrict_umask()


# ---- serve and worker -----------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
    workers: Annotated[
        bool, typer.Option("--workers/--no-workers", help="run workers here")
    ] = True,
    queues: Annotated[str | None, typer.Option(help="comma-separated queues to work")] = None,
    processes: Annotated[
        int, typer.Option(min=1, max=64, help="web processes (each with its own workers)")
    ] = 1,
    config: ConfigOpt = None,
    log_level: LogOpt = None,
) -> None:
    """Run the web app; by default also the workers of every queue, in this process."""
    import uvicorn

    from ils.bootstrap import JobSystem, tune_gc_for_serving
    from ils.queue.broker import redact
    from ils.queue.runtime import parse_queues
    from ils.web.app import create_app
    from ils.web.serving import UVICORN_OPTIONS, quiet_access_log

    settings = settings_for(config, log_level=log_level)
    configure_logging(settings)
    tune_gc_for_serving()
    ready_to_run(settings)
    try:
        chosen = parse_queues(queues)
        system = JobSystem(settings)
    except IlsJobsError as exc:
        fail(str(exc))
    where = "embedded Valkey" if settings.redis_url is None else "Redis"
    at = redact(system.broker.url)  # starts (or reuses) the embedded server now
    typer.echo(f"ILS Jobs listening on http://{host}:{port} (broker: {where} at {at})")
    if processes > 1:
        _serve_processes(system, host, port, processes, workers, chosen)
        return
    crashed: list[BaseException] = []
    server: uvicorn.Server | None = None

    def on_fatal(exc: BaseException) -> None:
        # A worker that keeps dying ends the process (non-zero) rather than serving without it.
        crashed.append(exc)
        if server is not None:
            server.should_exit = True

    try:
        web = create_app(system, run_workers=workers, queues=chosen, on_fatal=on_fatal)
    except IlsJobsError as exc:  # e.g. a bad web setting: a clear line, not a traceback
        asyncio.run(system.close())
        fail(str(exc))
    level = settings.log_level.lower()
    server = uvicorn.Server(
        uvicorn.Config(web, host=host, port=port, log_level=level, **UVICORN_OPTIONS)
    )
    quiet_access_log()
    server.run()
    if crashed:
        raise typer.Exit(1)


def _serve_processes(
    system: JobSystem,
    host: str,
    port: int,
    processes: int,
    workers: bool,
    queues: tuple[str, ...],
) -> None:
    """Several web processes on one port (uvicorn's supervisor restarts any that dies); this
    process keeps the embedded server, if any, in use until they are all gone."""
    from ils.web.factory import ServeHandoff, process_config, run_processes

    settings = system.settings
    if settings.redis_url is None:
        # The children must share the embedded server this process started, wherever it is.
        settings = settings.model_copy(update={"redis_url": system.broker.url})
    handoff = ServeHandoff.of(settings, run_workers=workers, queues=queues)
    try:
        # Invalid web settings fail here, once, rather than in every child in turn.
        settings.web_settings()
        run_processes(process_config(handoff, host, port, processes))
    except IlsJobsError as exc:
        fail(str(exc))
    finally:
        asyncio.run(system.close())


@app.command()
def worker(
    queues: Annotated[
        str | None, typer.Option(help="comma-separated queues (default: all)")
    ] = None,
    imports: Annotated[
        list[str] | None, typer.Option("--import", help="a module declaring more job types (@job)")
    ] = None,
    config: ConfigOpt = None,
    log_level: LogOpt = None,
    processes: Annotated[
        int,
        typer.Option(
            min=1,
            max=MAX_PROCESSES,
            help="worker processes, each working the chosen queues; a supervisor restarts any "
            "that dies and drains them all on SIGTERM",
        ),
    ] = 1,
) -> None:
    """Run workers for the chosen queues until SIGTERM/SIGINT (graceful shutdown)."""
    # The same body as `ils worker` run the short way (ils.cli_worker), which declares these
    # options too.
    raise typer.Exit(run_worker(queues, imports, config, log_level, processes))


# ---- embedded server ------------------------------------------------------------------------


def _embedded(config: Path | None) -> EmbeddedServer:
    from ils.queue.embedded import EmbeddedServer

    settings = settings_for(config)
    if settings.redis_url is not None:
        fail("REDIS_URL (or REDIS_HOST/REDIS_PORT) is set: no embedded server is used")
    return EmbeddedServer(settings.redis_dir, settings.embedded_port)


@embedded_app.command("status")
def embedded_status(config: ConfigOpt = None) -> None:
    """Whether the embedded server runs, and where."""
    state = _embedded(config).status()
    if state is None:
        typer.echo("embedded server: not running")
        raise typer.Exit(1)
    typer.echo(f"embedded server: running, pid {state.pid}, {state.shown_url}")


@embedded_app.command("stop")
def embedded_stop(config: ConfigOpt = None) -> None:
    """Stop the embedded server now (its data is saved first)."""
    stopped = _embedded(config).stop()
    typer.echo("embedded server stopped" if stopped else "embedded server was not running")
