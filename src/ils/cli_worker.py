"""``ils worker``: its body, and the short way a worker's command line takes.

The ``ils`` command starts here (:func:`main`). A well-formed ``ils worker [--queues Q]
[--import M]... [--config F] [--log-level L] [--processes N]`` runs :func:`run_worker` directly,
without loading typer, click or rich (they cost a worker's start time and memory, and it prints
no table); every other command line — any other command, ``--help``, an option this parser does
not take, a value it doubts — goes to the typer app (:mod:`ils.cli`), whose ``worker`` command
runs the same :func:`run_worker`, so help and errors are typer's. The options are declared in
both; a test keeps them the same. With ``--processes N`` above 1 this process supervises N worker
processes (:mod:`ils.worker_supervisor`), each running :func:`work`.
"""

from __future__ import annotations

import gc
import logging
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ils.settings import IlsSettings

# The worker command's options (as the typer command declares them) -> their parameter.
OPTIONS = {"--queues": "queues", "--import": "imports", "--config": "config",
           "--log-level": "log_level", "--processes": "processes"}  # fmt: skip
REPEATABLE = frozenset({"--import"})
#: The range ``--processes`` takes (as the typer command declares it).
MAX_PROCESSES = 64


@dataclass
class WorkerArgs:
    queues: str | None = None
    imports: list[str] = field(default_factory=list)
    config: Path | None = None
    log_level: str | None = None
    processes: int = 1


def parse_worker_args(args: Sequence[str]) -> WorkerArgs | None:
    """The options after ``worker``, when this parser is sure of them; None: let typer parse."""
    found: dict[str, list[str]] = {}
    rest = list(args)
    while rest:
        name, eq, value = rest.pop(0).partition("=")
        if name not in OPTIONS:
            return None  # --help, a typo, an argument: typer answers
        if not eq:
            if not rest:
                return None
            value = rest.pop(0)
        if value.startswith("-") or (name in found and name not in REPEATABLE):
            return None
        found.setdefault(name, []).append(value)
    one = {name: values[-1] for name, values in found.items()}
    config = one.get("--config")
    processes = one.get("--processes", "1")
    if not (processes.isdigit() and 1 <= int(processes) <= MAX_PROCESSES):
        return None  # typer says what is wrong with it
    return WorkerArgs(
        queues=one.get("--queues"),
        imports=found.get("--import", []),
        config=Path(config) if config is not None else None,
        log_level=one.get("--log-level"),
        processes=int(processes),
    )


def run_worker(
    queues: str | None,
    imports: list[str] | None,
    config: Path | None,
    log_level: str | None,
    processes: int = 1,
) -> int:
    """Run workers for the chosen queues until SIGTERM/SIGINT (graceful shutdown), in this
    process or, with ``processes`` above 1, in that many supervised ones; the exit code."""
    from ils.cli_base import configure_logging, fail, ready_to_run, settings_for
    from ils.errors import IlsJobsError

    settings = settings_for(config, imports, log_level=log_level)
    configure_logging(settings)
    ready_to_run(settings)
    if processes == 1:
        return work(settings, queues)
    from ils.queue.runtime import parse_queues
    from ils.worker_supervisor import supervise

    try:
        parse_queues(queues)  # a wrong name fails here once, not in every child in turn
    except IlsJobsError as exc:
        fail(str(exc))
    return supervise(settings, queues, processes)


def work(settings: IlsSettings, queues: str | None, label: str | None = None) -> int:
    """Run the workers of ``queues`` in this process until SIGTERM/SIGINT; the exit code. The
    cyclic garbage collector is switched back on once the workers run (see :func:`main`);
    ``label`` names this process among its supervisor's."""
    from ils import lifecycle
    from ils.cli_base import run_async
    from ils.queue.runtime import parse_queues

    async def main() -> int:
        from ils.bootstrap import JobSystem

        system = JobSystem(settings)
        runtime = system.runtime(parse_queues(queues))
        async with lifecycle.running(system, runtime):
            runtime.install_signal_handlers()
            gc.enable()
            logging.getLogger("ils.worker").info(
                "ready: worker %s takes jobs of %s%s",
                runtime.worker_id, ",".join(runtime.queues), f" ({label})" if label else "",
            )  # fmt: skip
            return await runtime.wait()

    return run_async(main)


def main(argv: Sequence[str] | None = None) -> None:
    """The ``ils`` command."""
    args = list(sys.argv[1:] if argv is None else argv)
    worker = parse_worker_args(args[1:]) if args[:1] == ["worker"] else None
    if worker is None:
        from ils.cli import app

        sys.exit(app(args=args))
    # A worker's start-up makes long-lived objects by the hundred thousand (modules, pydantic
    # schemas, the job types) and next to no garbage: the cyclic collector, run every 700
    # allocations, would traverse them again and again (measured: a fifth of the start's CPU
    # time, bench/README.md). It is off until the workers run.
    gc.disable()
    try:
        from ils.queue.vardir import restrict_umask

        restrict_umask()  # as the typer app's callback does for every command
        code = run_worker(
            worker.queues, worker.imports or None, worker.config, worker.log_level,
            worker.processes,
        )  # fmt: skip
    finally:
        gc.enable()
    sys.exit(code)
