"""The hourly retention job (the platform's schedule): outbox rows delivered to Redis more than
N days ago, files in the storage that no document names, sessions and API tokens ended (revoked
or expired) more than N days ago, notifications past their retention, and domain events past
theirs (archived under the var directory first).

The rules' queries are in :mod:`ils.jobs.scheduled.retention_rules`, loaded when the job runs.
The Ns are the ``retention`` settings (:class:`~ils.jobs.scheduled.settings.RetentionSettings`);
a session or token counts as expired by the web section's lifetimes, the ones logins apply. A
file is an orphan only once it is older than ``orphan_document_hours``, so a PDF whose row is
about to be committed is never taken for one. Every step deletes only what its rule names, so a
run repeated (a retry, a run-now) deletes nothing more.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from ils.jobs.resources import Ctx
from ils.jobs.scheduled.runs import scheduled
from ils.jobs.scheduled.settings import RetentionSettings
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from ils.queue.producer import Producer


class RetentionRun(Payload):
    """No fields: the job reads its limits from the settings."""


def settings_of(producer: Producer) -> RetentionSettings:
    """The process's retention settings (the defaults where its settings have no section)."""

    from ils.settings import IlsSettings

    found = producer.settings
    return found.retention_settings() if isinstance(found, IlsSettings) else RetentionSettings()


@scheduled(RetentionRun, name="retention",
           description="delete delivered outbox rows, orphaned files, ended sessions and tokens, "
           "old notifications, old domain events (archived first)",
           resources=("files", "producer"))  # fmt: skip
async def retention(payload: RetentionRun, ctx: Ctx) -> dict[str, Any]:
    from ils.domain.models.types import utcnow
    from ils.jobs.scheduled.retention_rules import (
        credentials,
        events,
        notifications,
        orphan_files,
    )

    db, producer = ctx.resources.db, ctx.resources.producer
    limits = settings_of(producer)
    now = utcnow()
    outbox = 0
    if producer.relay is not None:
        outbox = await producer.relay.outbox.purge(now - dt.timedelta(days=limits.outbox_days))
    files = await orphan_files(db, ctx.resources.files, limits, now)
    var_dir = producer.settings.var_dir
    return {
        "outbox_rows": outbox,
        "orphaned_files": len(files),
        **await credentials(db, limits, now),
        "notifications": await notifications(db, limits, now),
        "events_archived": await events(db, limits, now, var_dir),
    }
