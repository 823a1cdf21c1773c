"""What the ``ils`` command's typer sub-commands share: the common options, and the table printer
(rich, imported only by a command that prints a table). What they share with the typer-free
``ils worker`` (the settings, failing, running a coroutine) is in :mod:`ils.cli_base`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file")]
JsonOpt = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
LogOpt = Annotated[
    str | None, typer.Option("--log-level", help="DEBUG, INFO, WARNING, ERROR (default: settings)")
]


def rich_console() -> Any:
    from rich.console import Console

    return Console()
