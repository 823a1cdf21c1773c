"""When a recurring job fires: a cron pattern in a time zone, or a fixed interval, checked and
stepped the way our BullMQ job schedulers step them.

Guard: BullMQ's Python port steps a pattern with croniter on a zone-aware datetime, which gets
the days clocks change wrong (a daily 08:00 in New York fires at 07:00 and again at 08:00 the day
summer time starts, at 09:00 the day it ends). :func:`repeat_strategy` steps the pattern on the
local wall clock instead and then places it in the zone; :func:`use_strategy` gives it to every
``Queue`` and ``Worker`` of ours (``ils.queue.queues``, ``ils.queue.runtime``), the ones that
compute a scheduler's next run, so what a caller records is what Redis fires. A local time that
does not exist that day (02:30 when clocks jump from 02:00 to 03:00) runs at the offset before
the jump (03:30); one that exists twice runs at the first. Patterns have 5 fields, or 6 with the
seconds first, as BullMQ reads them. Intervals fire one interval after the previous run; the
first run of a new one is one interval after it is made (BullMQ's ``startDate``), not at once.

The same scheduler writes each run of a company's schedule into that company's job index
(:class:`IndexingJobScheduler`): BullMQ's scripts add the runs, and they know no index.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bullmq.job_scheduler import JobScheduler
from croniter import croniter

from ils.queue.tenancy import index_job, job_company

#: Wide enough for any real pattern, narrow enough for a column.
CRON_MAX = 120
TIMEZONE_MAX = 64


def repeat_strategy(millis: int, opts: Mapping[str, Any]) -> int | None:
    """BullMQ's repeat strategy (the next run after ``millis`` of the pattern in ``opts``, in
    epoch ms), stepped on the zone's wall clock."""
    pattern = opts.get("pattern")
    if not pattern:
        return None
    if opts.get("immediately"):
        return int(time.time() * 1000)
    start = opts.get("startDate")
    base_ms = max(millis, int(start)) if isinstance(start, int | float) else millis
    tz = ZoneInfo(opts.get("tz") or "UTC")
    base = dt.datetime.fromtimestamp(base_ms / 1000, tz)
    steps = croniter(pattern, base.replace(tzinfo=None), second_at_beginning=True)
    while True:
        local = steps.get_next(dt.datetime)
        found = int(local.replace(tzinfo=tz).timestamp() * 1000)
        if found > base_ms:  # a wall-clock time that repeats may lie before the base
            return found


class IndexingJobScheduler(JobScheduler):  # type: ignore[misc]  # bullmq ships no stubs
    """BullMQ's job scheduler that also writes each run it makes into the run's company index
    (:mod:`ils.queue.tenancy`), so a company's scheduled runs are in its job lists like the jobs
    it enqueues. The run's id is computed inside BullMQ's scheduler, so its entry follows the
    add rather than preceding it; an entry is idempotent, and a run BullMQ found already made is
    indexed again harmlessly."""

    async def upsertJobScheduler(self, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
        run = await super().upsertJobScheduler(*args, **kwargs)
        company = job_company(run.data) if run is not None else None
        if company is not None:
            await index_job(self.queue, str(run.id), company)
        return run


def use_strategy(owner: Any) -> Any:
    """``owner`` (a bullmq ``Queue`` or ``Worker``) with :func:`repeat_strategy` for its job
    schedulers, and their runs indexed by company: BullMQ makes its scheduler lazily and takes
    no option for it."""
    owner._job_scheduler = IndexingJobScheduler(owner, repeat_strategy)
    return owner


def check_timezone(name: str) -> str:
    """``name`` if it is an IANA time zone (``Europe/Paris``), else ``ValueError``."""
    if not name or len(name) > TIMEZONE_MAX or name != name.strip():
        raise ValueError("not a time zone name")
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r} (an IANA name, e.g. Europe/Paris)") from None
    return name


def check_cron(pattern: str) -> str:
    """``pattern`` stripped, if BullMQ can step it (5 fields, or 6 with the seconds first),
    else ``ValueError`` saying why."""
    pattern = " ".join(pattern.split())
    if not pattern or len(pattern) > CRON_MAX:
        raise ValueError(f"a cron pattern of 1 to {CRON_MAX} characters")
    if len(pattern.split()) not in (5, 6) and not pattern.startswith("@"):
        raise ValueError("a cron pattern has 5 fields (minute hour day month weekday)")
    try:
        repeat_strategy(0, {"pattern": pattern})
    except (ValueError, KeyError) as exc:
        raise ValueError(f"not a cron pattern BullMQ understands: {exc}") from None
    return pattern


def to_ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def from_ms(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)


@dataclass(frozen=True)
class Recurrence:
    """A cron ``pattern`` in ``tz``, or every ``every_ms`` milliseconds: exactly one of the two."""

    pattern: str | None = None
    every_ms: int | None = None
    tz: str = "UTC"

    def __post_init__(self) -> None:
        if (self.pattern is None) == (self.every_ms is None):
            raise ValueError("a recurrence is a cron pattern or an interval, exactly one")
        if self.every_ms is not None and self.every_ms <= 0:
            raise ValueError("an interval must be positive")

    def next_after(self, when: dt.datetime) -> dt.datetime:
        """The first run strictly after ``when`` (for an interval: one interval later)."""
        ms = to_ms(when)
        if self.pattern is None:
            assert self.every_ms is not None
            return from_ms(ms + self.every_ms)
        found = repeat_strategy(ms, {"pattern": self.pattern, "tz": self.tz})
        assert found is not None
        return from_ms(int(found))

    def repeat_options(self, first: dt.datetime | None = None) -> dict[str, Any]:
        """BullMQ's repeat options; ``first`` (intervals only) is when the first run falls."""
        if self.pattern is not None:
            return {"pattern": self.pattern, "tz": self.tz}
        options: dict[str, Any] = {"every": self.every_ms}
        if first is not None:
            options["startDate"] = to_ms(first)
        return options
