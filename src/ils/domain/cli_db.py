"""The ``ils db`` and ``ils demo`` commands: migrate the configured database, report its
revision, and seed the demo data (printing the demo logins).

The database is the one the settings name (:func:`ils.settings.load_settings`: ``DATABASE_URL``,
or SQLite under ``var_dir`` from ils.toml or ``ILS_VAR_DIR``), the same ``ils serve`` and
``ils worker`` use. What a command runs is imported inside it: ``ils --help`` loads no driver.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer

from ils.errors import IlsJobsError
from ils.settings import load_settings

if TYPE_CHECKING:
    from ils.domain.demo import DemoCredentials

db_app = typer.Typer(help="The ILS database: migrations (DATABASE_URL, or SQLite under var/).")
demo_app = typer.Typer(help="Demo data: two companies, a user per role, a year of orders.")


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


ConfigOpt = Annotated[Path | None, typer.Option("--config", help="TOML settings file")]


def configured_url(config: Path | None = None) -> str:
    """The settings' database: ``DATABASE_URL`` with its async driver, or SQLite under
    ``var_dir``."""
    try:
        return load_settings(config_file=config).resolved_database_url()
    except IlsJobsError as exc:
        _fail(str(exc), 2)


def _shown(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="revision to reach")] = "head",
    config: ConfigOpt = None,
) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    from ils.domain.migrate import current, upgrade

    url = configured_url(config)
    upgrade(url, revision)
    typer.echo(f"{_shown(url)}: at revision {current(url)}")


@db_app.command("current")
def db_current(
    check: Annotated[bool, typer.Option("--check", help="exit 1 unless at the newest")] = False,
    config: ConfigOpt = None,
) -> None:
    """The revision the database is at, and whether it is the newest."""
    from ils.domain.migrate import current, head

    url = configured_url(config)
    revision, newest = current(url), head()
    state = "head" if revision == newest else f"behind: newest is {newest}"
    typer.echo(f"{_shown(url)}: {revision or 'not migrated'} ({state})")
    if check and revision != newest:
        raise typer.Exit(1)


def print_credentials(credentials: DemoCredentials) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    # Never cut a login short: fold in a narrow terminal, and print wide into a pipe or file.
    out = console if console.is_terminal else Console(width=120)
    table = Table(title="ILS demo logins")
    for header in ("email", "password", "role", "company"):
        table.add_column(header, overflow="fold")
    for login in credentials.logins:
        table.add_row(login.email, login.password, login.role.value, login.company)
    out.print(table)
    if credentials.counts:
        made = ", ".join(f"{n} {what.replace('_', ' ')}" for what, n in credentials.counts.items())
        out.print(f"made: {made}")


@demo_app.command("seed")
def demo_seed(
    seed: Annotated[int, typer.Option(help="random seed: the same seed, the same data")] = 42,
    progress: Annotated[bool, typer.Option("--progress/--no-progress")] = True,
    if_empty: Annotated[
        bool, typer.Option("--if-empty", help="when the demo is already there, just print logins")
    ] = False,
    config: ConfigOpt = None,
) -> None:
    """Migrate the database, then fill it with the demo data and print the demo logins."""
    from ils.domain.db import Database
    from ils.domain.demo import DemoCredentials, DemoDataExists, demo_logins, seed_demo
    from ils.domain.migrate import upgrade_database
    from ils.files import LocalFileStorage

    url = configured_url(config)
    files = LocalFileStorage(load_settings(config_file=config).files_root)

    async def run() -> DemoCredentials:
        db = Database(url)
        try:
            await upgrade_database(db)
            return await seed_demo(db, seed=seed, progress=progress, files=files)
        finally:
            await db.dispose()

    try:
        credentials = asyncio.run(run())
    except DemoDataExists as exc:
        if not if_empty:
            _fail(str(exc))
        typer.echo("demo data already there; log in with one of:")
        credentials = DemoCredentials(demo_logins(), {})
    except IlsJobsError as exc:
        _fail(str(exc))
    print_credentials(credentials)
