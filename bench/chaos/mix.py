"""The jobs a scenario enqueues: a mix of job types whose side effects can be audited one by one
— generic emails (received by the SMTP sink), system notifications (rows), order-sheet PDFs
(document rows) and insight generations (AI result rows) — on a small world of one lab, its
admin and one order."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tests.support.email_world import World, make_world

from ils.bootstrap import JobSystem

#: kind -> (queue, job name)
KINDS: dict[str, tuple[str, str]] = {
    "email": ("email", "generic"),
    "notification": ("notification", "system"),
    "document": ("pdf", "order-sheet"),
    "ai": ("ai", "insight-generation"),
}
#: Each kind's share of a mix: mostly the cheap, frequent ones, as in production.
SHARES = {"email": 0.30, "notification": 0.62, "document": 0.06, "ai": 0.02}


@dataclass(frozen=True)
class Expected:
    """One enqueued job and the side effect it owes (``tag``: what identifies it to the audit,
    the email's subject for emails)."""

    kind: str
    queue: str
    job_id: str
    tag: str = ""


def split(total: int) -> dict[str, int]:
    """``total`` jobs shared out by :data:`SHARES`, at least one of each kind."""
    out = {kind: max(1, round(total * share)) for kind, share in SHARES.items()}
    out["notification"] += total - sum(out.values())
    return out


def payload(kind: str, world: World, tag: str) -> dict[str, Any]:
    if kind == "email":
        return {"to": ["reader@example.com"], "subject": tag, "text": f"Audit copy {tag}."}
    if kind == "notification":
        return {"userId": world.user.id, "title": tag, "message": "chaos audit"}
    if kind == "document":
        return {"orderId": world.order.id}
    return {"companyId": world.lab.id, "type": "all", "period": "week"}


class Mix:
    """Enqueues a scenario's jobs (interleaved, so every queue is busy at once) and keeps what
    each owes."""

    def __init__(self, system: JobSystem, scenario: str) -> None:
        self.system = system
        self.scenario = scenario
        self.expected: list[Expected] = []
        self._world: World | None = None

    async def world(self) -> World:
        if self._world is None:
            self._world = await make_world(self.system.database)
        return self._world

    async def add(self, total: int) -> list[Expected]:
        world = await self.world()
        counts = split(total)
        order = sorted(
            (i / n, kind) for kind, n in counts.items() for i in range(n)
        )  # interleaved by position
        added = []
        for _, kind in order:
            queue, name = KINDS[kind]
            tag = f"chaos {self.scenario} #{len(self.expected)}"
            job = await self.system.producer.enqueue(queue, name, payload(kind, world, tag))
            added.append(Expected(kind, queue, job.job_id, tag))
            self.expected.append(added[-1])
        return added
