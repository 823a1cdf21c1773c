"""The ``ils db`` and ``ils demo`` commands: migrate the configured database, report its
revision, and seed the demo data (printing the demo logins)."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table
from sqlalchemy.engine import make_url

from ils.domain.db import Database, database_url
from ils.domain.demo import DemoCredentials, DemoDataExists, demo_logins, seed_demo
from ils.domain.migrate import current, head, upgrade, upgrade_database
from ils.queue.errors import IlsJobsError

db_app = typer.Typer(help="The ILS database: migrations (DATABASE_URL, or SQLite under var/).")
demo_app = typer.Typer(help="Demo data: two companies, a user per role, a year of orders.")

console = Console()


def _fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def configured_url() -> str:
    """``DATABASE_URL`` with its async driver, or the SQLite file under ``ILS_VAR_DIR``."""
    try:
        return database_url(os.environ, Path(os.environ.get("ILS_VAR_DIR", "var")))
    except IlsJobsError as exc:
        _fail(str(exc), 2)


def _shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


@db_app.command("upgrade")
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="revision to reach")] = "head",
) -> None:
    """Migrate the database up to REVISION (default: the newest)."""
    url = configured_url()
    upgrade(url, revision)
    typer.echo(f"{_shown(url)}: at revision {current(url)}")


@db_app.command("current")
def db_current(
    check: Annotated[bool, typer.Option("--check", help="exit 1 unless at the newest")] = False,
) -> None:
    """The revision the database is at, and whether it is the newest."""
    url = configured_url()
    revision, newest = current(url), head()
    state = "head" if revision == newest else f"behind: newest is {newest}"
    typer.echo(f"{_shown(url)}: {revision or 'not migrated'} ({state})")
    if check and revision != newest:
        raise typer.Exit(1)


def print_credentials(credentials: DemoCredentials) -> None:
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
) -> None:
    """Migrate the database, then fill it with the demo data and print the demo logins."""
    url = configured_url()

    async def run() -> DemoCredentials:
        db = Database(url)
        try:
            await upgrade_database(db)
            return await seed_demo(db, seed=seed, progress=progress)
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
