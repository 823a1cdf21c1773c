"""What the ``ils`` command's sub-commands share that needs no typer: the settings with a
command's options as the last source, the one way a command fails (``error: ...`` on stderr,
exit 2 or 1), reading a JSON argument, running a coroutine as a command, and the start-up of
``serve`` and ``worker`` (logging, the private var directory, the database's revision).
``ils worker`` runs on these alone (:mod:`ils.cli_worker`); the typer commands use them too
(:mod:`ils.cli_common`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, NoReturn, TypeVar

from ils.errors import IlsJobsError
from ils.settings import IlsSettings, load_settings

T = TypeVar("T")


def fail(message: str, code: int = 2) -> NoReturn:
    print(f"error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def iso_time(value: str | None, flag: str) -> dt.datetime | None:
    """An option's ISO date or time (UTC when it names no zone); a bad one stops the command
    naming ``flag``."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        fail(f"{flag}: not an ISO date or time: {value!r}")
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=dt.UTC)


def parse_json(text: str, what: str) -> Any:
    """``text`` as JSON, or the command fails with ``<what> is not JSON: ...``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not JSON: {exc}")


def settings_for(
    config: Path | None, imports: list[str] | None = None, **options: Any
) -> IlsSettings:
    """The settings with this command's options as the last source (unset ones left out)."""
    try:
        base = load_settings(config_file=config, cli=options)
        if imports:
            return base.model_copy(update={"imports": (*base.imports, *imports)})
        return base
    except IlsJobsError as exc:
        fail(str(exc))


def run_async(coro: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await coro()

    try:
        return asyncio.run(runner())
    except IlsJobsError as exc:
        fail(str(exc), 1)


def configure_logging(settings: IlsSettings) -> None:
    from ils.logs import configure_logging as configure

    configure(settings.log_level, settings.log_format)


def ready_to_run(settings: IlsSettings) -> None:
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
        fail(str(exc))
    except Exception as exc:  # the driver's own errors: unreachable, refused, bad database
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        fail(f"cannot read the database's migration revision: {reason}", 1)
    finally:
        chatty.setLevel(level)
    if problem is not None:
        fail(problem, 1)
