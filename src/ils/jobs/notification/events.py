"""The ``dispatch-events`` job: one pass of the event dispatcher, handing new domain events to
every subscriber from its own cursor (:mod:`ils.events.dispatcher`).

A transaction that records events queues one such job through its outbox (see
:mod:`ils.events.record`), so the job exists iff the events committed and survives Redis being
down. The transactions of a quarter of a second (:data:`PASS_S`) share one job (its id from that
quarter), run at once: a hundred events a second make four passes a second, not a hundred passes
that hold the queue (the deliveries they hand on, of a lower priority, waited behind them). A
pass hands the subscribers that take events early (the webhooks', see :mod:`ils.events.early`)
every event committed by then, so a lone event leaves with the pass its commit queued, and the
events of a busy quarter with the next quarter's pass; the others, and every cursor, wait for the
settle time: events newer than it, or recorded while the pass ran, or of a subscriber another
pass held, are left for a follow-up pass, which the job queues, delayed by that time. The
dispatcher and its subscribers (SQLAlchemy) are imported when the job runs: a worker loads this
declaration without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field

from ils.errors import ConfigurationError
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from ils.queue.producer import Producer

#: Seconds an event waits before it is dispatched (see ils.events.dispatcher: ids are made at
#: record time, transactions commit in their own order).
SETTLE_S = 1.0
#: Seconds of recording that share one pass.
PASS_S = 0.25
EventId = Annotated[str, Field(min_length=26, max_length=26, pattern=r"^[0-9A-HJKMNP-TV-Z]{26}$")]


class DispatchEvents(Payload):
    """Which event's transaction asked for the pass (passes are not per event: each one drains
    every subscriber)."""

    event_id: EventId


@job(DispatchEvents, queue="notification", name="dispatch-events",
     description="hand new domain events to every subscriber, each from its own cursor",
     priority=2, attempts=10, resources=("db", "notifier", "producer"))  # fmt: skip
async def dispatch_events(payload: DispatchEvents, ctx: Ctx) -> Any:
    from ils.domain.models.types import utcnow
    from ils.events.subscribers import dispatcher_for

    dispatcher = dispatcher_for(ctx.resources.db, ctx.resources.notifier, SETTLE_S)
    at = utcnow()
    outcomes = await dispatcher.run_once(at)
    follow_up = None
    if await dispatcher.needs_follow_up(at, outcomes):
        # One follow-up per second at most, whichever passes ask for it in that second: a job id
        # of its own (never one BullMQ still keeps as completed, which would add nothing).
        options = EnqueueOptions(job_id=f"evl-{int(at.timestamp())}", delay_s=SETTLE_S)
        follow_up = (
            await dispatch_events.send(
                {"event_id": payload.event_id}, options=options, producer=ctx.resources.producer
            )
        ).job_id
    failed = {name: o.error for name, o in outcomes.items() if o.error}
    return {
        "delivered": {name: o.delivered for name, o in outcomes.items()},
        "failed": failed,
        "early": {name: o.early for name, o in outcomes.items() if o.early},
        "busy": sorted(name for name, o in outcomes.items() if o.busy),
        "follow_up": follow_up,
    }


def dispatch_job_id(event_id: str) -> str:
    """The id of the pass that a transaction whose first event is ``event_id`` queues: one per
    :data:`PASS_S` of recording, whichever transactions of that time ask for it."""
    from ulid import ULID

    return f"evd-{int(ULID.from_str(event_id).milliseconds // (PASS_S * 1000))}"


async def queue_dispatch(
    session: AsyncSession, event_id: str, producer: Producer | None = None
) -> bool:
    """Queue a pass in ``session``'s transaction (its outbox); False, queueing nothing, when the
    session is of a database no job system was started with (a migration, a script): its events
    wait in the log for the next pass."""
    # Every transaction of the quarter asks for the same pass: the first one's row is handed
    # over at its commit; the others join it (a pass reads the log, not its payload).
    options = EnqueueOptions(job_id=dispatch_job_id(event_id), shared_id=True)
    try:
        await dispatch_events.send(
            {"event_id": event_id}, options=options, session=session, producer=producer
        )
    except ConfigurationError:
        return False
    return True
