"""Declaring a scheduled job type (:func:`scheduled`), and the step every run of one takes first:
writing the run to its schedule's row (when it ran, its job id, the next run), and deciding
whether it does its work at all.

Which schedule a job belongs to is read from its id: BullMQ names a scheduler's runs
``repeat:schedule-<id>:<ms>`` (its due time in epoch ms); the runs this package adds itself are
``schedule-<id>-missed-<ms>`` (a run missed during downtime, see
:mod:`ils.jobs.scheduled.reconcile`) and ``schedule-<id>-now-<ms>`` (run now, from the API or the
CLI). A job of another id (added by hand with ``ils queue add``) runs without touching any row.

The missed-run policy is applied here, when a run starts, not before a worker takes jobs: a fired
run that starts more than :data:`MISSED_AFTER` after it was due was missed, and a schedule whose
``missed_run`` is ``skip`` completes it without its work. A run for a time its schedule already
ran (a ``missed`` run added while the fired one was being taken) is not done twice.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, NamedTuple, ParamSpec, TypeVar

from ils.domain.enums import SCHEDULER_PREFIX
from ils.jobs.resources import Ctx
from ils.queue.declare import JobDef, job
from ils.queue.recurrence import from_ms
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from ils.domain.db import Database
    from ils.domain.models import Schedule

QUEUE = "scheduled"
#: A run that starts more than this after it was due was missed (no worker of the scheduled
#: queue ran, or none was free): its schedule's ``missed_run`` policy applies. A run less late is
#: only late, and runs.
MISSED_AFTER = dt.timedelta(minutes=5)
P = ParamSpec("P")
PayloadT = TypeVar("PayloadT", bound=Payload)
_OWN_RUN = re.compile(rf"^{SCHEDULER_PREFIX}(\d+)-(missed|now)-(\d+)$")
_FIRED = re.compile(rf"^repeat:{SCHEDULER_PREFIX}(\d+):(\d+)$")


class Run(NamedTuple):
    """Which schedule a job is a run of, why (``fired``, ``missed``, ``now``), and for when."""

    schedule_id: int
    kind: str
    at: dt.datetime


class Recorded(NamedTuple):
    """A run written to its schedule's row, and why it does not do its work (None: it does)."""

    run: Run
    skipped: str | None = None


def run_of(job_id: str) -> Run | None:
    """The schedule run ``job_id`` names, or None."""
    if found := _FIRED.match(job_id):
        return Run(int(found[1]), "fired", from_ms(int(found[2])))
    if found := _OWN_RUN.match(job_id):
        return Run(int(found[1]), found[2], from_ms(int(found[3])))
    return None


def own_run_id(schedule_id: int, kind: str, at: dt.datetime) -> str:
    """The job id of a run this package adds (``missed`` or ``now``)."""
    return f"{SCHEDULER_PREFIX}{schedule_id}-{kind}-{int(at.timestamp() * 1000)}"


def already_ran(row: Schedule, run: Run, job_id: str) -> bool:
    """Whether ``row`` already started a run for ``run``'s time, or a later one, as another job
    (runs now aside): a ``missed`` run added while the fired one was being taken, say."""
    if run.kind == "now" or row.last_job_id == job_id:
        return False
    last = run_of(row.last_job_id or "")
    return last is not None and last.kind != "now" and last.at >= run.at


def skips_missed(row: Schedule, run: Run, job_id: str, now: dt.datetime) -> bool:
    """Whether ``run`` is a fired run that starts (at ``now``) more than :data:`MISSED_AFTER`
    after it was due, of a schedule that skips missed runs. A job ``row`` names as its last run
    started in time before: it is a retry, or a run its dead worker left, and goes on."""
    return (
        run.kind == "fired"
        and now - run.at > MISSED_AFTER
        and row.missed_run == "skip"
        and row.last_job_id != job_id
    )


async def record_run(db: Database, job_id: str, now: dt.datetime | None = None) -> Recorded | None:
    """Write the run ``job_id`` names to its schedule as it starts (at ``now``): its start and job
    id, and (a run the scheduler fired) the next run after it. A missed run its schedule skips
    (:func:`skips_missed`) writes only the next run, a run for a time already run
    (:func:`already_ran`) nothing; both are :class:`Recorded` with the reason. None for a job of
    no schedule; a run of a schedule gone is not skipped."""
    from sqlalchemy import select

    from ils.domain.models import Company, Schedule
    from ils.domain.models.schedules import recurrence_of
    from ils.domain.models.types import utcnow

    run = run_of(job_id)
    if run is None:
        return None
    now = now or utcnow()
    async with db.session() as session:
        found = (await session.execute(
            select(Schedule, Company.timezone).outerjoin(Company)
            .where(Schedule.id == run.schedule_id)
        )).first()  # fmt: skip
        if found is None:
            return Recorded(run)
        row, company_tz = found
        due = f"{run.at:%Y-%m-%d %H:%M:%S} UTC"
        if already_ran(row, run, job_id):
            return Recorded(run, f"the run due at {due} already started as {row.last_job_id}")
        skipped = None
        if skips_missed(row, run, job_id, now):
            late = (now - run.at).total_seconds()
            skipped = f"missed (due at {due}, started {late:.0f} s later): its schedule skips it"
        else:
            row.last_run_at = now
            row.last_job_id = job_id
        if run.kind == "fired" and row.enabled:
            recurrence = recurrence_of(row, company_tz)
            following = recurrence.next_after(run.at)
            row.next_run_at = following if following > now else recurrence.next_after(now)
    return Recorded(run, skipped)


Handler = Callable[[PayloadT, Ctx], Awaitable[Any]]


def scheduled(
    payload: Callable[P, PayloadT],
    *,
    name: str,
    description: str,
    resources: tuple[str, ...] = (),
    attempts: int | None = None,
    timeout_s: float | None = None,
) -> Callable[[Handler[PayloadT]], JobDef[P, PayloadT]]:
    """Declare a job type of the scheduled queue (see :func:`ils.queue.declare.job`) whose runs
    are written to their schedule's row before ``handler`` runs (:func:`record_run`); a run
    skipped there completes without calling it, its result saying why."""

    def declare(handler: Handler[PayloadT]) -> JobDef[P, PayloadT]:
        @functools.wraps(handler)
        async def run(data: PayloadT, ctx: Ctx) -> Any:
            recorded = await record_run(ctx.resources.db, ctx.job_id)
            if recorded is not None and recorded.skipped is not None:
                ctx.logger.info("schedule %d: not run: %s", recorded.run.schedule_id,
                                recorded.skipped)  # fmt: skip
                return {"skipped": recorded.skipped}
            return await handler(data, ctx)

        uses = tuple(sorted({"db", *resources}))
        return job(
            payload, queue=QUEUE, name=name, description=description, resources=uses,
            attempts=attempts, timeout_s=timeout_s,
        )(run)  # fmt: skip

    return declare
