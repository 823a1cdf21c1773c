"""The ``sync-schedules`` job: makes Redis's job schedulers equal to the schedule rows it names
(all, when it names none). The schedules service enqueues it through the outbox in the
transaction that changes a row, so a committed change always reaches Redis and a rolled-back one
never does; the platform's ``schedules sync`` schedule runs a full one every hour, which mends a
scheduler lost or changed in Redis by hand."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from ils.jobs.payloads import Id
from ils.jobs.resources import Ctx
from ils.jobs.scheduled.runs import scheduled
from ils.queue.registry import Payload


class SyncSchedules(Payload):
    schedule_ids: list[Id] = Field(
        default_factory=list, max_length=1_000, description="the schedules changed; none: all"
    )


@scheduled(SyncSchedules, name="sync-schedules",
           description="make Redis's job schedulers equal to the schedule rows",
           resources=("producer",))  # fmt: skip
async def sync_schedules(payload: SyncSchedules, ctx: Ctx) -> dict[str, Any]:
    from ils.jobs.scheduled.reconcile import sync

    done = await sync(ctx.resources.db, ctx.resources.producer, payload.schedule_ids)
    return {"added": done.added, "updated": done.updated, "removed": done.removed,
            "unchanged": done.unchanged}  # fmt: skip
