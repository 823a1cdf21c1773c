"""``ils dlq ...``: the dead letters (jobs that failed for good) from the command line: list them
with filters, show one, replay one or many, discard one, as the platform operator (every
company's, nothing masked) through the same admin layer as the API and the dashboard.

Only typer is imported at module level: ``ils worker`` loads this module with the command tree
and must stay lean (``tests/test_lean_worker.py``).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ils.cli_base import fail, iso_time, run_async, settings_for
from ils.cli_common import ConfigOpt, JsonOpt, rich_console, with_system

if TYPE_CHECKING:
    from ils.bootstrap import JobSystem

dlq_app = typer.Typer(help="Dead letters: jobs that failed for good (list, show, replay, discard).")

IdArg = Annotated[int, typer.Argument(min=1, help="the dead letter's id")]


def _in_session(config: Any, what: Any) -> Any:
    """``what(system, session)`` in one transaction (committed when it returns), then the
    outbox rows it wrote are relayed before the process ends."""

    async def run(system: JobSystem) -> Any:
        async with system.database.session() as session:
            result = await what(system, session)
        await system.relay.wait_idle()
        return result

    return run_async(lambda: with_system(settings_for(config), run))


@dlq_app.command("list")
def dlq_list(
    queue: Annotated[str | None, typer.Option(help="one queue's")] = None,
    name: Annotated[str | None, typer.Option(help="one job type's (its name)")] = None,
    company: Annotated[int | None, typer.Option(min=1, help="one company's")] = None,
    since: Annotated[str | None, typer.Option(help="last failed at or after (ISO)")] = None,
    until: Annotated[str | None, typer.Option(help="last failed before (ISO)")] = None,
    replayed: Annotated[
        bool | None, typer.Option("--replayed/--not-replayed", help="replayed or not yet")
    ] = None,
    page: Annotated[int, typer.Option(min=1)] = 1,
    page_size: Annotated[int, typer.Option(min=1, max=200)] = 50,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Dead letters, the latest failure first."""
    from ils.errors import ConfigurationError
    from ils.queue.dead_letters import DeadLetterFilter
    from ils.queue.settings import check_queue_name
    from ils.queue.tenancy import PLATFORM

    if queue is not None:
        try:
            check_queue_name(queue)
        except ConfigurationError as exc:
            fail(f"--queue: {exc}")
    which = DeadLetterFilter(queue, name, company, iso_time(since, "--since"),
                             iso_time(until, "--until"), replayed)  # fmt: skip
    found = _in_session(config, lambda system, session: system.admin.dead_letters.page(
        session, PLATFORM, which, page, page_size))  # fmt: skip
    if as_json:
        typer.echo(json.dumps(found, indent=2, default=str))
        return
    from rich.table import Table

    table = Table("id", "queue", "job", "job id", "company", "attempts", "last failed",
                  "reason", "replayed as",
                  title=f"ILS Jobs: dead letters ({found['total']}, page {page})")  # fmt: skip
    for d in found["dead_letters"]:
        table.add_row(str(d["id"]), d["queue"], d["name"], d["job_id"], str(d["company_id"] or "-"),
                      str(d["attempts"]), d["last_failed_at"].isoformat(timespec="seconds"),
                      d["reason"][:60], d["replayed_as"] or "-")  # fmt: skip
    rich_console().print(table)


@dlq_app.command("show")
def dlq_show(dead_letter_id: IdArg, config: ConfigOpt = None) -> None:
    """One dead letter in full, as JSON: payload, reason, stack trace, attempts, replay."""
    from ils.queue.tenancy import PLATFORM

    shown = _in_session(config, lambda system, session: system.admin.dead_letters.inspect(
        session, PLATFORM, dead_letter_id))  # fmt: skip
    typer.echo(json.dumps(shown, indent=2, default=str))


@dlq_app.command("replay")
def dlq_replay(
    ids: Annotated[list[int], typer.Argument(min=1, help="dead letter ids")],
    config: ConfigOpt = None,
) -> None:
    """Replay dead letters as new jobs (``dlq-<id>``): one JSON line each. Replaying one again
    prints its first replay's job (``enqueued: false``); exit 1 if any was not replayed."""
    from ils.queue.tenancy import PLATFORM

    results = _in_session(config, lambda system, session: system.admin.dead_letters.replay_many(
        session, PLATFORM, ids))  # fmt: skip
    for result in results:
        typer.echo(json.dumps(result.to_dict()))
    if any(r.error for r in results):
        raise typer.Exit(1)


@dlq_app.command("discard")
def dlq_discard(dead_letter_id: IdArg, config: ConfigOpt = None) -> None:
    """Delete a dead letter (its failed job stays in its queue until cleaned)."""
    from ils.queue.tenancy import PLATFORM

    gone = _in_session(config, lambda system, session: system.admin.dead_letters.discard(
        session, PLATFORM, dead_letter_id))  # fmt: skip
    typer.echo(json.dumps({"discarded": gone.id, "queue": gone.queue, "job_id": gone.job_id}))
