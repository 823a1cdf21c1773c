"""What the ``ils`` command's typer sub-commands share: the common options, the table printer
(rich, imported only by a command that prints a table), the queue admin view on Redis alone that
the inspecting commands read through, and the whole job system for those that act. What they
share with the typer-free ``ils worker`` (the settings, failing, running a coroutine) is in
:mod:`ils.cli_base`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ils.cli_base import T, run_async, settings_for

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem
    from ils.queue.admin import QueueAdmin
    from ils.settings import IlsSettings

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
LogOpt = Annotated[
    str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR (default: settings)")
]


def rich_console() -> Any:
    from rich.console import Console

    return Console()


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
