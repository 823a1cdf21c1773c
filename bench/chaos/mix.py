"""The jobs a scenario enqueues: a mix of job types of every queue whose side effects can be
audited one by one — generic emails (received by the SMTP sink), system notifications (rows),
order-sheet PDFs (document rows), insight generations (AI result rows), OMA files processed (the
file's row, the SVG its follow-up job draws, the notification it sends), OMA files exported (the
stored file) and schedule runs (the run written to its schedule's row, and the AI job it hands
on) — on a small world of one lab, its admin and one order."""

from __future__ import annotations

import asyncio
import base64
import datetime as dt
import itertools
from dataclasses import dataclass
from typing import Any

from tests.support.email_world import World, make_world
from tests.support.oma_files import job_file

from ils.bootstrap import JobSystem
from ils.domain.models import Schedule
from ils.jobs.oma.process import derived_id
from ils.jobs.scheduled.company import local_today
from ils.jobs.scheduled.runs import own_run_id
from ils.queue.producer import EnqueueOptions

#: kind -> (queue, job name)
KINDS: dict[str, tuple[str, str]] = {
    "email": ("email", "generic"),
    "notification": ("notification", "system"),
    "document": ("pdf", "order-sheet"),
    "ai": ("ai", "insight-generation"),
    "oma": ("oma", "process-oma-file"),
    "export": ("oma", "export-oma-file"),
    "scheduled": ("scheduled", "daily-briefing"),
}
#: Each kind's share of a mix: mostly the cheap, frequent ones, as in production.
SHARES = {"email": 0.29, "notification": 0.58, "document": 0.06, "ai": 0.02, "oma": 0.02,
          "export": 0.01, "scheduled": 0.02}  # fmt: skip
#: Jobs enqueued at once (the mix is the suite's own work, not what it measures).
BATCH = 32


@dataclass(frozen=True)
class Expected:
    """One job and the side effect it owes (``tag``: what identifies it to the audit, the
    email's subject for emails; the OMA job's id for the SVG its follow-up draws)."""

    kind: str
    queue: str
    job_id: str
    tag: str = ""


def split(total: int) -> dict[str, int]:
    """``total`` jobs shared out by :data:`SHARES`, at least one of each kind."""
    out = {kind: max(1, round(total * share)) for kind, share in SHARES.items()}
    out["notification"] += total - sum(out.values())
    return out


def oma_content(world: World, tag: str) -> str:
    """A valid DCS file for the world's order, unique to ``tag`` (the same bytes for the same
    order would be one job: the upload's dedup)."""
    data = job_file(world.order.number, extra=(("_CHAOS", (tag,)),))
    return base64.b64encode(data).decode()


def payload(kind: str, world: World, tag: str) -> dict[str, Any]:
    if kind == "email":
        return {"to": ["reader@example.com"], "subject": tag, "text": f"Audit copy {tag}."}
    if kind == "notification":
        return {"userId": world.user.id, "title": tag, "message": "chaos audit"}
    if kind == "document":
        return {"orderId": world.order.id}
    if kind == "oma":
        return {"companyId": world.lab.id, "orderId": world.order.id, "userId": world.user.id,
                "filename": "chaos.oma", "content": oma_content(world, tag)}  # fmt: skip
    if kind == "export":
        return {"companyId": world.lab.id, "orderId": world.order.id, "deliver": "download"}
    if kind == "scheduled":
        return {"companyId": world.lab.id}
    return {"companyId": world.lab.id, "type": "all", "period": "week"}


def follow_ups(e: Expected, world: World) -> list[Expected]:
    """The jobs a job of the mix enqueues itself, with the effects they owe: an OMA file's SVG
    (drawn by its render job) and its owner's notification; a schedule run's AI job (one per
    company and local day, however many runs hand it on)."""
    if e.kind == "oma":
        svg = Expected("oma-svg", "oma", derived_id(e.job_id, "render"), tag=e.job_id)
        notice = Expected("notification", "notification", derived_id(e.job_id, "notice-0"))
        return [svg, notice]
    if e.kind == "scheduled":
        day = local_today(world.lab).isoformat()
        return [Expected("briefing", "ai", f"daily-briefing-{world.lab.id}-{day}")]
    return []


class Mix:
    """Enqueues a scenario's jobs (interleaved, so every queue is busy at once) and keeps what
    each owes."""

    def __init__(self, system: JobSystem, scenario: str) -> None:
        self.system = system
        self.scenario = scenario
        self.expected: list[Expected] = []
        self._world: World | None = None
        self._schedules = itertools.count()

    async def world(self) -> World:
        if self._world is None:
            self._world = await make_world(self.system.database)
        return self._world

    async def schedules(self, n: int) -> list[int]:
        """``n`` paused schedules of the lab (so no scheduler fires them), one per run."""
        world = await self.world()
        names = [f"chaos {self.scenario} {next(self._schedules)}" for _ in range(n)]
        rows = [Schedule(company_id=world.lab.id, name=name, job_type="daily-briefing",
                         cron="0 8 * * *", enabled=False) for name in names]  # fmt: skip
        async with self.system.database.session() as s:
            s.add_all(rows)
            await s.flush()
            return [r.id for r in rows]

    async def _one(self, kind: str, tag: str, schedule_id: int | None) -> Expected:
        world = await self.world()
        queue, name = KINDS[kind]
        options = None
        if schedule_id is not None:  # a run of that schedule, as "run now" adds it
            at = dt.datetime.now(dt.UTC)
            options = EnqueueOptions(job_id=own_run_id(schedule_id, "now", at))
        job = await self.system.producer.enqueue(queue, name, payload(kind, world, tag), options)
        return Expected(kind, queue, job.job_id, tag)

    async def add(self, total: int) -> list[Expected]:
        world = await self.world()
        counts = split(total)
        order = sorted(
            (i / n, kind) for kind, n in counts.items() for i in range(n)
        )  # interleaved by position
        schedule_ids = iter(await self.schedules(counts["scheduled"]))
        calls = []
        for _, kind in order:
            tag = f"chaos {self.scenario} #{len(self.expected) + len(calls)}"
            calls.append((kind, tag, next(schedule_ids) if kind == "scheduled" else None))
        added: list[Expected] = []
        for start in range(0, len(calls), BATCH):
            batch = calls[start : start + BATCH]
            added += await asyncio.gather(*(self._one(*call) for call in batch))
        derived = {f.job_id: f for e in added for f in follow_ups(e, world)}
        self.expected += added + list(derived.values())
        return added + list(derived.values())
