"""The ``ils`` command: serve the app, run workers, inspect queues, manage the embedded server.

Every command builds its settings with :func:`ils.settings.load_settings` (its options are the
last source) and imports what it runs inside its body: a worker of one queue, or ``ils queue
stats``, loads neither the web app, nor the migrations, nor the other queues' code.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from ils.domain.cli_db import db_app, demo_app
from ils.queue.errors import IlsJobsError
from ils.queue.vardir import restrict_umask
from ils.settings import IlsSettings, load_settings

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem
    from ils.queue.admin import QueueAdmin
    from ils.queue.embedded import EmbeddedServer

app = typer.Typer(help="ILS Jobs: background jobs of the Integrated Lens System.")
queue_app = typer.Typer(help="Inspect the queues and add jobs.")
embedded_app = typer.Typer(help="The embedded Redis-compatible server (when REDIS_URL is unset).")
app.add_typer(queue_app, name="queue")
app.add_typer(embedded_app, name="embedded")
app.add_typer(db_app, name="db")
app.add_typer(demo_app, name="demo")

T = TypeVar("T")


@app.callback()
def _private_files() -> None:
    """Whatever any command creates (database, PDFs, mail, the embedded server's files) is
    private to this user; the writers set modes explicitly too, this catches the rest."""
    restrict_umask()


ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
LogOpt = Annotated[
    str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR (default: settings)")
]


def _settings(config: Path | None, imports: list[str] | None = None, **options: Any) -> IlsSettings:
    """The settings with this command's options as the last source (unset ones left out)."""
    try:
        base = load_settings(config_file=config, cli=options)
        if imports:
            return base.model_copy(update={"imports": (*base.imports, *imports)})
        return base
    except IlsJobsError as exc:
        _fail(str(exc))


def _configure_logging(settings: IlsSettings) -> None:
    from ils.logs import configure_logging

    configure_logging(settings.log_level, settings.log_format)


def _console() -> Any:
    from rich.console import Console

    return Console()


def _fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _ready_to_run(settings: IlsSettings) -> None:
    """Start-up checks of ``serve`` and ``worker``: the var directory is private, and the
    database is at the newest migration (else every job would fail on a missing table)."""
    from ils.domain.schema_check import schema_problem_at
    from ils.queue.vardir import tighten

    tighten(settings.var_dir)
    chatty = logging.getLogger("alembic")  # its INFO lines (plugins, context) say nothing here
    level = chatty.level
    chatty.setLevel(logging.WARNING)
    try:
        problem = schema_problem_at(settings.resolved_database_url())
    except IlsJobsError as exc:
        _fail(str(exc))
    except Exception as exc:  # the driver's own errors: unreachable, refused, bad database
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        _fail(f"cannot read the database's migration revision: {reason}", 1)
    finally:
        chatty.setLevel(level)
    if problem is not None:
        _fail(problem, 1)


def _run(coro: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await coro()

    try:
        return asyncio.run(runner())
    except IlsJobsError as exc:
        _fail(str(exc), 1)


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

    settings = _settings(config, log_level=log_level)
    _configure_logging(settings)
    tune_gc_for_serving()
    _ready_to_run(settings)
    try:
        chosen = parse_queues(queues)
        system = JobSystem(settings)
    except IlsJobsError as exc:
        _fail(str(exc))
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
        _fail(str(exc))
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
        _fail(str(exc))
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
) -> None:
    """Run workers for the chosen queues until SIGTERM/SIGINT (graceful shutdown)."""
    from ils import lifecycle
    from ils.queue.runtime import parse_queues

    settings = _settings(config, imports, log_level=log_level)
    _configure_logging(settings)
    _ready_to_run(settings)

    async def main() -> int:
        from ils.bootstrap import JobSystem

        system = JobSystem(settings)
        runtime = system.runtime(parse_queues(queues))
        async with lifecycle.running(system, runtime):
            runtime.install_signal_handlers()
            logging.getLogger("ils.worker").info(
                "ready: worker %s takes jobs of %s", runtime.worker_id, ",".join(runtime.queues)
            )
            return await runtime.wait()

    code = _run(main)
    raise typer.Exit(code)


# ---- queue inspection -----------------------------------------------------------------------


async def _with_system(settings: IlsSettings, fn: Callable[[JobSystem], Awaitable[T]]) -> T:
    from ils.bootstrap import JobSystem

    system = JobSystem(settings)
    try:
        return await fn(system)
    finally:
        await system.close()


def _inspect(config: Path | None, fn: Callable[[QueueAdmin], Awaitable[T]]) -> T:
    """``fn`` on an admin view that needs Redis alone (no database, mail or AI settings)."""
    from ils import lifecycle

    settings = _settings(config)

    async def run() -> T:
        async with lifecycle.inspecting(settings) as admin:
            return await fn(admin)

    return _run(run)


@queue_app.command("stats")
def queue_stats(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Jobs per state for each queue."""
    from rich.table import Table

    from ils.queue.states import COUNT_STATES

    stats = _inspect(config, lambda admin: admin.stats())
    if as_json:
        typer.echo(json.dumps(stats, indent=2))
        return
    table = Table("queue", *COUNT_STATES, title="ILS Jobs: queue stats")
    for queue, counts in stats.items():
        table.add_row(queue, *(str(counts[s]) for s in COUNT_STATES))
    _console().print(table)


@queue_app.command("health")
def queue_health(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Redis reachable, latency, version, memory, live workers per queue."""
    from rich.table import Table

    health = _inspect(config, lambda admin: admin.health())
    if as_json:
        typer.echo(json.dumps(health, indent=2))
    else:
        table = Table("check", "value", title="ILS Jobs: health")
        for key in ("redis", "latency_ms", "version", "memory_used_human", "connected_clients"):
            table.add_row(key, str(health[key]))
        for queue, n in health["workers"].items():
            table.add_row(f"workers: {queue}", str(n))
        if health["error"]:
            table.add_row("error", str(health["error"]))
        _console().print(table)
    if not health["redis"]:
        raise typer.Exit(1)


@queue_app.command("info")
def queue_info(as_json: JsonOpt = False, config: ConfigOpt = None) -> None:
    """Each queue's settings, counts and workers, with the broker's health, and the job types."""
    from rich.table import Table

    from ils.jobs import build_registry
    from ils.queue.reference import describe

    info = _inspect(config, lambda admin: admin.info())
    info["job_types"] = [describe(t) for t in build_registry(_settings(config).imports)]
    if as_json:
        typer.echo(json.dumps(info, indent=2))
        return
    table = Table(
        "queue", "concurrency", "rate limit", "attempts", "backoff", "lock", "workers", "jobs",
        title=f"ILS Jobs: queues (prefix {info['prefix']})",
    )  # fmt: skip
    for queue, q in info["queues"].items():
        s = q["settings"]
        rate = f"{s['rate_max']}/{s['rate_duration_ms']}ms" if s["rate_max"] else "-"
        counts = q["counts"] or {}
        jobs = " ".join(f"{k}={v}" for k, v in counts.items() if v)
        table.add_row(
            queue, str(s["concurrency"]), rate, str(s["attempts"]),
            f"{s['backoff']} {s['backoff_delay_ms']}ms", f"{s['lock_duration_ms']}ms",
            str(q["workers"]), jobs or "-",
        )  # fmt: skip
    console = _console()
    console.print(table)
    h = info["health"]
    console.print(f"redis: {h['redis']}  version: {h['version']}  latency: {h['latency_ms']} ms")
    types = Table(title="ILS Jobs: job types")
    for column in ("queue", "job name", "priority", "attempts", "resources", "description"):
        types.add_column(column, no_wrap=column != "description")
    for t in info["job_types"]:
        types.add_row(t["queue"], t["name"], str(t["priority"] or "-"), str(t["attempts"] or "-"),
                      ", ".join(t["resources"]) or "-", t["description"])  # fmt: skip
    console.print(types)


@queue_app.command("docs")
def queue_docs(
    output: Annotated[Path | None, typer.Option(help="write here instead of stdout")] = None,
    config: ConfigOpt = None,
) -> None:
    """The reference table of the job types (docs/jobs.md), from their declarations."""
    from ils.jobs import build_registry
    from ils.jobs.reference import render

    page = render(build_registry(_settings(config).imports))
    if output is None:
        typer.echo(page, nl=False)
    else:
        output.write_text(page)


@queue_app.command("add")
def queue_add(
    queue: str,
    name: str,
    payload: Annotated[str, typer.Argument(help="the payload as a JSON object")],
    priority: Annotated[int | None, typer.Option(help="1 is the highest")] = None,
    delay: Annotated[float | None, typer.Option(help="seconds to wait before running")] = None,
    job_id: Annotated[str | None, typer.Option("--job-id")] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate and enqueue one job; prints its id."""
    from pydantic import ValidationError

    from ils.queue.producer import EnqueueOptions

    try:
        data = json.loads(payload)
    except json.JSONDecodeError as exc:
        _fail(f"payload is not JSON: {exc}")
    try:
        options = EnqueueOptions(priority=priority, delay_s=delay, job_id=job_id)
    except ValidationError as exc:
        flags = {"priority": "--priority", "delay_s": "--delay", "job_id": "--job-id"}
        _fail("; ".join(f"{flags.get(str(e['loc'][0]), e['loc'][0])}: {e['msg']}"
                        for e in exc.errors()))  # fmt: skip

    async def add(system: JobSystem) -> Any:
        return await system.producer.enqueue(queue, name, data, options)

    result = _run(lambda: _with_system(_settings(config), add))
    typer.echo(json.dumps({"queue": result.queue, "name": result.name, "id": result.job_id,
                           "mode": result.mode}))  # fmt: skip


# ---- embedded server ------------------------------------------------------------------------


def _embedded(config: Path | None) -> EmbeddedServer:
    from ils.queue.embedded import EmbeddedServer

    settings = _settings(config)
    if settings.redis_url is not None:
        _fail("REDIS_URL (or REDIS_HOST/REDIS_PORT) is set: no embedded server is used")
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


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
