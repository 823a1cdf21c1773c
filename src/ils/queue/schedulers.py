"""Making the BullMQ job schedulers of one prefix equal to a wanted set, idempotently.

A caller (the ILS's schedules, :mod:`ils.jobs.scheduled.reconcile`) says which schedulers it
owns (by id) and which of those it wants; :func:`reconcile` reads the queues' schedulers once,
upserts the wanted ones that are missing or differ, removes the owned ones nobody wants, and
leaves the rest (a Node producer's own, say) alone. A scheduler that already matches is not
touched, so reconciling twice changes nothing, and its pending run keeps its time.

They are BullMQ's own job schedulers (``<prefix>:<queue>:repeat``), so Node dashboards and
producers see the same entries. Their runs' job ids are BullMQ's ``repeat:<scheduler id>:<ms>``
(:func:`run_of`), which says which scheduler fired and for when.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bullmq import Queue
from bullmq.job import optsFromJSON
from redis.exceptions import RedisError

from ils.errors import BrokerUnavailable
from ils.queue import keys
from ils.queue.states import TAKEN_STATES

#: The template options compared besides the recurrence and the data: what a job type's
#: declaration may change between releases.
COMPARED_OPTIONS = ("attempts", "priority")
READ_BATCH = 1_000
_RUN_ID = re.compile(r"^repeat:(?P<scheduler>.+):(?P<ms>\d+)$")


@dataclass(frozen=True)
class WantedScheduler:
    """One scheduler as it should be: its id, queue, job name, BullMQ repeat options (pattern and
    tz, or every), the data and options of the jobs it makes."""

    id: str
    queue: str
    name: str
    repeat: Mapping[str, Any]
    data: Mapping[str, Any]
    opts: Mapping[str, Any] = field(default_factory=dict)

    def matches(self, found: Mapping[str, Any]) -> bool:
        """Whether the scheduler record ``found`` (as ``getJobSchedulers`` gives it) makes the
        same jobs at the same times (an interval's ``startDate`` aside: it only placed the first
        run)."""
        template = found.get("template") or {}
        opts = template.get("opts") or {}
        return (
            found.get("name") == self.name
            and found.get("pattern") == self.repeat.get("pattern")
            and found.get("every") == self.repeat.get("every")
            and (found.get("tz") or None) == (self.repeat.get("tz") or None)
            and (template.get("data") or {}) == dict(self.data)
            and all(opts.get(k) == self.opts.get(k) for k in COMPARED_OPTIONS)
        )


@dataclass
class Reconciled:
    """What a reconcile did, by scheduler id."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: int = 0

    @property
    def changed(self) -> int:
        return len(self.added) + len(self.updated) + len(self.removed)


def run_of(job_id: str) -> tuple[str, int] | None:
    """``(scheduler id, the run's time in epoch ms)`` for a job a scheduler made, else None."""
    found = _RUN_ID.match(job_id)
    return (found["scheduler"], int(found["ms"])) if found else None


def record(sid: str, fields: Mapping[str, Any], next_ms: int | None) -> dict[str, Any]:
    """A scheduler's hash in the shape of BullMQ's ``getJobSchedulers`` (the fields we use)."""
    out: dict[str, Any] = {"key": sid, "name": fields.get("name"), "next": next_ms,
                           "tz": fields.get("tz"), "pattern": fields.get("pattern")}  # fmt: skip
    if fields.get("every"):
        out["every"] = int(fields["every"])
    template: dict[str, Any] = {}
    if fields.get("data"):
        template["data"] = json.loads(fields["data"])
    if fields.get("opts"):
        template["opts"] = optsFromJSON(json.loads(fields["opts"]))
    out["template"] = template
    return out


async def read(queue: Queue, start: int = 0, end: int = -1) -> dict[str, dict[str, Any]]:
    """The queue's schedulers by id, soonest first (``start``..``end`` of them), read in
    pipelines of :data:`READ_BATCH` (guard: see :mod:`ils.queue.keys`). Raises
    :class:`BrokerUnavailable`."""
    key = keys.schedulers(queue)
    found: dict[str, dict[str, Any]] = {}
    try:
        members = await queue.client.zrange(key, start, end, withscores=True)
        for first in range(0, len(members), READ_BATCH):
            chunk = members[first : first + READ_BATCH]
            async with queue.client.pipeline(transaction=False) as pipe:
                for sid, _score in chunk:
                    pipe.hgetall(f"{key}:{sid}")
                hashes = await pipe.execute()
            for (sid, score), fields in zip(chunk, hashes, strict=True):
                if fields:
                    found[str(sid)] = record(str(sid), fields, int(score))
    except RedisError as exc:
        raise BrokerUnavailable(f"cannot read the job schedulers of {queue.name}: {exc}") from exc
    return found


async def read_some(queue: Queue, ids: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The schedulers of ``ids`` that exist, by id. Raises :class:`BrokerUnavailable`."""
    key = keys.schedulers(queue)
    wanted = list(ids)
    found = {}
    try:
        async with queue.client.pipeline(transaction=False) as pipe:
            for sid in wanted:
                pipe.zscore(key, sid)
                pipe.hgetall(f"{key}:{sid}")
            answers = await pipe.execute()
        for i, sid in enumerate(wanted):
            score, fields = answers[2 * i], answers[2 * i + 1]
            if score is not None and fields:
                found[sid] = record(sid, fields, int(score))
    except RedisError as exc:
        raise BrokerUnavailable(f"cannot read the job schedulers of {queue.name}: {exc}") from exc
    return found


async def upsert(queue: Queue, wanted: WantedScheduler) -> None:
    await queue.upsertJobScheduler(
        wanted.id, dict(wanted.repeat), wanted.name, dict(wanted.data), dict(wanted.opts)
    )


async def remove(queue: Queue, scheduler_id: str) -> bool:
    """Remove the scheduler and its pending run; False if there was none."""
    return int(await queue.removeJobScheduler(scheduler_id)) == 0


async def take_back(queue: Queue, scheduler_id: str, job_id: str) -> bool:
    """Remove the scheduler and its run ``job_id`` unless a worker has taken that run: True when
    the run will not start (removed now, or never made), False when a worker took it first (it
    is active or finished, or the scheduler has moved past it, which a worker does as it takes
    a run). The scheduler goes first: BullMQ refuses to remove a scheduler's pending run, and a
    worker that takes the run in between keeps it (it is locked, and not removed)."""
    taken = await queue.getJobState(job_id) in TAKEN_STATES
    found = run_of(job_id)
    if not taken and found is not None:
        current = await queue.client.zscore(keys.schedulers(queue), scheduler_id)
        taken = current is not None and int(current) > found[1]
    if taken:
        return False
    await remove(queue, scheduler_id)
    return int(await queue.remove(job_id, {"removeChildren": True})) == 1


async def reconcile(
    queues: Callable[[str], Queue],
    wanted: Iterable[WantedScheduler],
    owns: Callable[[str], bool],
    queue_names: Iterable[str],
    only: set[str] | None = None,
) -> Reconciled:
    """Make the schedulers of ``queue_names`` that ``owns`` claims equal to ``wanted``.

    ``only`` narrows the pass to those scheduler ids (a change to a few schedules): only they
    are read, upserted or removed. Raises :class:`BrokerUnavailable`.
    """
    want = {w.id: w for w in wanted if only is None or w.id in only}
    done = Reconciled()
    for name in queue_names:
        queue = queues(name)
        found = await read(queue) if only is None else await read_some(queue, only)
        try:
            for sid, record in found.items():
                keep = want.get(sid)
                if not owns(sid):
                    continue
                if keep is None or keep.queue != name:
                    await remove(queue, sid)
                    done.removed.append(sid)
                elif keep.matches(record):
                    done.unchanged += 1
                    want.pop(sid)
            for sid, w in list(want.items()):
                if w.queue != name:
                    continue
                await upsert(queue, w)
                (done.updated if sid in found else done.added).append(sid)
                want.pop(sid)
        except RedisError as exc:
            raise BrokerUnavailable(f"cannot change the job schedulers of {name}: {exc}") from exc
    return done
