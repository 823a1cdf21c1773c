"""What the ``ils`` command's sub-commands share: the common options, the settings with a
command's options as the last source, the one way a command fails (``error: ...`` on stderr, exit
2 or 1), reading a JSON argument, running a coroutine as a command, and the queue admin view on
Redis alone that the inspecting commands read through. Rich is imported only by a command that
prints a table.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn, TypeVar

import typer

from ils.errors import IlsJobsError
from ils.settings import IlsSettings, load_settings

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem
    from ils.queue.admin import QueueAdmin

T = TypeVar("T")

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
LogOpt = Annotated[
    str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR (default: settings)")
]


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


def rich_console() -> Any:
    from rich.console import Console

    return Console()


def fail(message: str, code: int = 2) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def parse_json(text: str, what: str) -> Any:
    """``text`` as JSON, or the command fails with ``<what> is not JSON: ...``."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        fail(f"{what} is not JSON: {exc}")


def run_async(coro: Callable[[], Awaitable[T]]) -> T:
    async def runner() -> T:
        return await coro()

    try:
        return asyncio.run(runner())
    except IlsJobsError as exc:
        fail(str(exc), 1)


def inspect_admin(config: Path | None, fn: Callable[[QueueAdmin], Awaitable[T]]) -> T:
    """``fn`` on an admin view that needs Redis alone (no database, mail or AI settings)."""
    from ils import lifecycle

    settings = settings_for(config)

    async def run() -> T:
        async with lifecycle.inspecting(settings) as admin:
            return await fn(admin)

    return run_async(run)


async def with_system(settings: IlsSettings, fn: Callable[[JobSystem], Awaitable[T]]) -> T:
    """``fn`` on the whole job system (database, broker, producer, admin), closed after."""
    from ils.bootstrap import JobSystem

    system = JobSystem(settings)
    try:
        return await fn(system)
    finally:
        await system.close()
