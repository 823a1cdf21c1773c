"""``ils events ...``: the event log from the command line, as the platform operator (every
company's): list it with filters, replay a range to one subscriber, write the catalog's page.

Only typer is imported at module level: ``ils worker`` loads this module with the command tree
and must stay lean (``tests/test_lean_worker.py``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ils.cli_base import fail, iso_time, run_async, settings_for
from ils.cli_common import ConfigOpt, JsonOpt, with_system

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem
    from ils.events.log import EventFilter

events_app = typer.Typer(help="Domain events: list the log, replay a range, write the catalog.")

TypesOpt = Annotated[
    list[str] | None, typer.Option("--type", help="an event type (repeat for more)")
]
SinceOpt = Annotated[str | None, typer.Option(help="at or after (ISO date or time)")]
UntilOpt = Annotated[str | None, typer.Option(help="before (ISO date or time)")]
CompanyOpt = Annotated[int | None, typer.Option(min=1, help="one company's")]


def _filter(types: list[str] | None, since: str | None, until: str | None,
            company: int | None, **more: Any) -> EventFilter:  # fmt: skip
    import difflib

    from ils.events.catalog import EVENT_TYPES
    from ils.events.log import EventFilter

    for name in types or []:
        if name not in EVENT_TYPES:
            near = difflib.get_close_matches(name, EVENT_TYPES, n=1)
            fail(
                f"--type: unknown event type {name!r}"
                + (f"; did you mean {near[0]!r}?" if near else "")
            )
    return EventFilter(company_id=company, types=types or (), since=iso_time(since, "--since"),
                       until=iso_time(until, "--until"), **more)  # fmt: skip


@events_app.command("list")
def events_list(
    types: TypesOpt = None,
    subject_type: Annotated[str | None, typer.Option(help="e.g. order")] = None,
    subject_id: Annotated[str | None, typer.Option(help="e.g. 42")] = None,
    actor_user_id: Annotated[int | None, typer.Option(min=1)] = None,
    since: SinceOpt = None,
    until: UntilOpt = None,
    company: CompanyOpt = None,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the page before")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Events, newest first (one page; --cursor for the next)."""
    from ils.events import log

    which = _filter(types, since, until, company, subject_type=subject_type,
                    subject_id=subject_id, actor_user_id=actor_user_id)  # fmt: skip

    async def run(system: JobSystem) -> tuple[list[dict[str, Any]], str | None]:
        async with system.database.session() as session:
            found = await log.page(session, which, limit, cursor)
        return [e.envelope().model_dump(mode="json") for e in found.events], found.next_cursor

    events, next_cursor = run_async(lambda: with_system(settings_for(config), run))
    if as_json:
        typer.echo(json.dumps({"events": events, "next_cursor": next_cursor}, indent=2))
        return
    for e in events:
        who = f"user {e['actor']['user_id']}" if e["actor"]["kind"] == "user" else "system"
        typer.echo(f"{e['id']}  {e['occurred_at']}  {e['type']:<34} company {e['company_id']}  "
                   f"{e['subject_type']} {e['subject_id']}  by {who}")  # fmt: skip
    if next_cursor:
        typer.echo(f"more: --cursor {next_cursor}")


@events_app.command("replay")
def events_replay(
    subscriber: Annotated[
        str, typer.Argument(help="a subscriber's name (live) or a webhook endpoint (webhook:<id>)")
    ],
    since: Annotated[str, typer.Option(help="at or after (ISO date or time)")],
    until: Annotated[str, typer.Option(help="before (ISO date or time)")],
    types: TypesOpt = None,
    company: CompanyOpt = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count, send nothing")] = False,
    config: ConfigOpt = None,
) -> None:
    """Hand the events of a time range (and types) again to one subscriber or webhook endpoint,
    oldest first."""
    from ils.errors import ConfigurationError
    from ils.events.replay import replay
    from ils.events.subscribers import dispatcher_for
    from ils.jobs.notification.events import SETTLE_S
    from ils.jobs.webhooks.replay import replay_target, scoped

    which = _filter(types, since, until, company)

    async def run(system: JobSystem) -> Any:
        dispatcher = dispatcher_for(system.database, system.notifier, SETTLE_S)
        async with system.database.session() as session:
            try:
                target = await replay_target(session, dispatcher, subscriber)
                scope = scoped(target, which)
            except ConfigurationError as exc:
                fail(str(exc))
            return await replay(session, target, scope, dry_run=dry_run)

    done = run_async(lambda: with_system(settings_for(config), run))
    typer.echo(json.dumps(done.__dict__, indent=2))
    if done.error:
        raise typer.Exit(1)


@events_app.command("docs")
def events_docs(
    output: Annotated[Path | None, typer.Option(help="write here instead of printing")] = None,
) -> None:
    """The event catalog as Markdown (docs/events.md), generated from the schemas."""
    from ils.events.reference import render

    text = render()
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text)
