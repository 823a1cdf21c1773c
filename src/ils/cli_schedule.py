"""``ils schedule ...``: list, add, pause, resume, remove and run now the schedules (recurring
jobs), as the platform's operator: every company's and the platform's own.

Each command changes the rows through :mod:`ils.domain.services.schedules`, so the sync to
Redis's job schedulers is written in the same transaction; the command waits until the outbox
has handed it to Redis, where a worker of the scheduled queue runs it. Bad input fails with
exit 2, naming the option.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ils.cli_base import T, fail, parse_json, run_async, settings_for
from ils.cli_common import ConfigOpt, JsonOpt, rich_console

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.bootstrap import JobSystem
    from ils.domain.models import Schedule

schedule_app = typer.Typer(help="Schedules: recurring jobs of the companies and the platform.")

IdArg = Annotated[int, typer.Argument(min=1, help="the schedule's id (ils schedule list)")]
# The service's field names, as the options spell them.
FLAGS = {"company_id": "--company", "every_s": "--every", "missed_run": "--missed",
         "job_type": "JOB_TYPE", "name": "NAME"}  # fmt: skip


def _in_session(config: Path | None, fn: Callable[[AsyncSession], Awaitable[T]]) -> T:
    """``fn`` in one transaction of the configured database; then the outbox is relayed."""
    from pydantic import ValidationError

    from ils.bootstrap import JobSystem
    from ils.errors import Invalid

    async def run() -> T:
        system: JobSystem = JobSystem(settings_for(config))
        try:
            async with system.database.session() as session:
                done = await fn(session)
            await system.relay.wait_idle()
            return done
        except Invalid as exc:
            fail(f"{_flag(exc.field)}: {exc.message}")
        except ValidationError as exc:
            fail("; ".join(f"{_flag(str(e['loc'][0]))}: {e['msg']}" for e in exc.errors()))
        finally:
            await system.close()

    return run_async(run)


def _flag(field: str) -> str:
    return FLAGS.get(field, "--" + field.replace("_", "-"))


def row_of(row: Schedule) -> dict[str, Any]:
    def at(value: Any) -> str | None:
        return value.isoformat() if value is not None else None

    return {
        "id": row.id, "company_id": row.company_id, "name": row.name, "job_type": row.job_type,
        "payload": row.payload, "cron": row.cron, "every_s": row.every_s,
        "timezone": row.timezone, "enabled": row.enabled, "missed_run": row.missed_run.value,
        "last_run_at": at(row.last_run_at), "last_job_id": row.last_job_id,
        "next_run_at": at(row.next_run_at),
    }  # fmt: skip


async def _get(session: AsyncSession, schedule_id: int) -> Schedule:
    from ils.domain.models import Schedule
    from ils.errors import Invalid

    row = await session.get(Schedule, schedule_id)
    if row is None:
        raise Invalid("id", f"no schedule {schedule_id}")
    return row


@schedule_app.command("list")
def schedule_list(
    company: Annotated[int | None, typer.Option(min=1, help="one company's only")] = None,
    as_json: JsonOpt = False,
    config: ConfigOpt = None,
) -> None:
    """Every schedule (or one company's): when it runs, when it ran and runs next."""
    from ils.domain.services import Window
    from ils.domain.services.schedules import list_schedules

    async def listed(session: AsyncSession) -> list[dict[str, Any]]:
        found = await list_schedules(session, company, Window(200_000), every_company=True)
        return [row_of(r) for r in found.items]

    rows = _in_session(config, listed)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    from rich.table import Table

    table = Table("id", "company", "name", "job type", "when", "zone", "enabled", "last run",
                  "next run", title="ILS Jobs: schedules")  # fmt: skip
    for r in rows:
        when = r["cron"] or f"every {r['every_s']} s"
        table.add_row(str(r["id"]), str(r["company_id"] or "platform"), r["name"], r["job_type"],
                      when, r["timezone"] or "-", "yes" if r["enabled"] else "paused",
                      r["last_run_at"] or "-", r["next_run_at"] or "-")  # fmt: skip
    rich_console().print(table)


@schedule_app.command("add")
def schedule_add(
    name: str,
    job_type: Annotated[str, typer.Argument(help="a job type of the scheduled queue")],
    cron: Annotated[str | None, typer.Option(help='e.g. "0 8 * * *" (08:00 daily)')] = None,
    every: Annotated[int | None, typer.Option(help="run every N seconds instead")] = None,
    payload: Annotated[str, typer.Option(help="the job's data, a JSON object")] = "{}",
    timezone: Annotated[str | None, typer.Option(help="IANA name; default: the company's")] = None,
    company: Annotated[int | None, typer.Option(help="whose; default: the platform's")] = None,
    missed: Annotated[str, typer.Option(help="after downtime: run_once or skip")] = "run_once",
    paused: Annotated[bool, typer.Option("--paused", help="add it paused")] = False,
    config: ConfigOpt = None,
) -> None:
    """Add a schedule; prints it."""
    from ils.domain.services.schedules import ScheduleCreate, create_schedule

    data = parse_json(payload, "--payload")

    async def add(session: AsyncSession) -> dict[str, Any]:
        spec = ScheduleCreate.model_validate({
            "name": name, "job_type": job_type, "cron": cron, "every_s": every, "payload": data,
            "timezone": timezone, "missed_run": missed, "enabled": not paused,
            "company_id": company,
        })  # fmt: skip
        return row_of(await create_schedule(session, spec, company))

    typer.echo(json.dumps(_in_session(config, add)))


def _act(config: Path | None, schedule_id: int, act: Callable[..., Awaitable[Any]]) -> None:
    async def run(session: AsyncSession) -> Any:
        return await act(session, await _get(session, schedule_id))

    typer.echo(json.dumps(_in_session(config, run)))


@schedule_app.command("pause")
def schedule_pause(schedule_id: IdArg, config: ConfigOpt = None) -> None:
    """Pause a schedule: its job scheduler goes until it is resumed."""
    from ils.domain.services.schedules import set_enabled

    async def pause(session: AsyncSession, row: Schedule) -> dict[str, Any]:
        return row_of(await set_enabled(session, row, False))

    _act(config, schedule_id, pause)


@schedule_app.command("resume")
def schedule_resume(schedule_id: IdArg, config: ConfigOpt = None) -> None:
    """Resume a paused schedule from its next run."""
    from ils.domain.services.schedules import set_enabled

    async def resume(session: AsyncSession, row: Schedule) -> dict[str, Any]:
        return row_of(await set_enabled(session, row, True))

    _act(config, schedule_id, resume)


@schedule_app.command("remove")
def schedule_remove(schedule_id: IdArg, config: ConfigOpt = None) -> None:
    """Remove a schedule and its job scheduler."""
    from ils.domain.services.schedules import delete_schedule

    async def remove(session: AsyncSession, row: Schedule) -> dict[str, Any]:
        await delete_schedule(session, row)
        return {"removed": schedule_id}

    _act(config, schedule_id, remove)


@schedule_app.command("run-now")
def schedule_run_now(schedule_id: IdArg, config: ConfigOpt = None) -> None:
    """Run a schedule's job once now, besides its schedule; prints the job."""
    from ils.domain.services.schedules import run_now

    async def run(session: AsyncSession, row: Schedule) -> dict[str, Any]:
        sent = await run_now(session, row)
        return {"queue": sent.queue, "name": sent.name, "id": sent.job_id}

    _act(config, schedule_id, run)
