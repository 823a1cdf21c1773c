"""Declaring a scheduled job type (:func:`scheduled`), and the step every run of one takes first:
writing the run to its schedule's row (when it ran, its job id, the next run).

Which schedule a job belongs to is read from its id: BullMQ names a scheduler's runs
``repeat:schedule-<id>:<ms>``; the runs this package adds itself are ``schedule-<id>-missed-<ms>``
(a run missed during downtime, see :mod:`ils.jobs.scheduled.reconcile`) and
``schedule-<id>-now-<ms>`` (run now, from the API or the CLI). A job of another id (added by hand
with ``ils queue add``) runs without touching any row.
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

QUEUE = "scheduled"
P = ParamSpec("P")
PayloadT = TypeVar("PayloadT", bound=Payload)
_OWN_RUN = re.compile(rf"^{SCHEDULER_PREFIX}(\d+)-(missed|now)-(\d+)$")
_FIRED = re.compile(rf"^repeat:{SCHEDULER_PREFIX}(\d+):(\d+)$")


class Run(NamedTuple):
    """Which schedule a job is a run of, why (``fired``, ``missed``, ``now``), and for when."""

    schedule_id: int
    kind: str
    at: dt.datetime


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


async def record_run(db: Database, job_id: str, now: dt.datetime | None = None) -> Run | None:
    """Write the run ``job_id`` names to its schedule: when it started (``now``) and its job
    id, and (a run the scheduler fired) the next run after it. Nothing for a job of no schedule,
    or of one gone."""
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
            return run
        row, company_tz = found
        row.last_run_at = now
        row.last_job_id = job_id
        if run.kind == "fired" and row.enabled:
            recurrence = recurrence_of(row, company_tz)
            following = recurrence.next_after(run.at)
            row.next_run_at = following if following > now else recurrence.next_after(now)
    return run


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
    are written to their schedule's row before ``handler`` runs."""

    def declare(handler: Handler[PayloadT]) -> JobDef[P, PayloadT]:
        @functools.wraps(handler)
        async def run(data: PayloadT, ctx: Ctx) -> Any:
            await record_run(ctx.resources.db, ctx.job_id)
            return await handler(data, ctx)

        uses = tuple(sorted({"db", *resources}))
        return job(
            payload, queue=QUEUE, name=name, description=description, resources=uses,
            attempts=attempts, timeout_s=timeout_s,
        )(run)  # fmt: skip

    return declare
