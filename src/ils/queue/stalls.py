"""The stalled-job check of a worker process: it hands jobs held by a dead worker back to wait,
from the moment the process starts and on its own timer.

BullMQ's worker runs its check only once a full stalled interval after it starts, so a worker that
dies sooner never runs it (issue 16: jobs stranded for minutes while workers kept restarting).
Here the check runs at start and then on a short period; the Redis ``stalled-check`` key that
BullMQ's script sets keeps the executed checks of all processes at most :func:`check_gap_s` apart.

Why a stranded job is back in wait within lock duration + stalled interval of the kill (while a
worker of its queue runs): its lock expires at most ``L`` after the kill; BullMQ's script marks
the active jobs at one check and moves those still without a lock at the next. With executed
checks at most ``g = min(L, I)`` apart, the job is marked within ``g`` of becoming active (before
its lock expires, as ``g <= L``), and the first check after the lock expired moves it: at most
``L + g <= L + I`` after the kill.

The schedule keeps a quarter of ``g`` in hand: the key holds half a gap and each process tries
every quarter gap, so on time the executed checks are at most three quarters of ``g`` apart, and
a process's timer may run that much late (a loaded machine: the chaos suite found stranded jobs
handed back up to a few seconds past the bound when the key held for the whole gap).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from ils.queue.background import every
from ils.queue.settings import QueueSpec

log = logging.getLogger("ils.worker")

#: Each process tries the check this many times per gap; the Redis key lets one through per
#: :data:`HOLD_SHARE` of it.
TRIES_PER_GAP = 4
HOLD_SHARE = 0.5


def check_gap_s(spec: QueueSpec) -> float:
    """The longest time between two executed stalled-job checks of ``spec``'s queue."""
    return min(spec.lock_duration_ms, spec.stalled_interval_ms) / 1000


class StallSweeper:
    """Runs BullMQ's stalled-job check for one queue: ``queue()`` is the bullmq ``Queue`` whose
    scripts run it, ``on_stalled(job_id)`` is told of each job handed back."""

    def __init__(
        self,
        name: str,
        spec: QueueSpec,
        queue: Callable[[], Any],
        on_stalled: Callable[[str], None],
    ) -> None:
        self.name = name
        self.spec = spec
        self._queue = queue
        self._on_stalled = on_stalled
        gap_ms = int(check_gap_s(spec) * 1000)
        self.period_s = gap_ms / TRIES_PER_GAP / 1000
        # The key's life: a try that finds it gone runs the check, so executed checks are at
        # most hold + period apart; HOLD_SHARE + 1 / TRIES_PER_GAP of the gap leaves the rest
        # for timers running late.
        self.hold_ms = max(1, int(gap_ms * HOLD_SHARE))

    async def check(self) -> list[str]:
        """One try: the ids of the jobs handed back to wait (none when another check ran lately)."""
        backend = self._queue().backend
        raw = await backend.moveStalledJobsToWait(self.spec.max_stalled_count, self.hold_ms)
        stalled = [j.decode() if isinstance(j, bytes) else str(j) for j in raw or []]
        for job_id in stalled:
            log.warning(
                "job %s on %s stalled; handed back to wait", job_id, self.name,
                extra={"job_id": job_id, "queue": self.name},
            )  # fmt: skip
            self._on_stalled(job_id)
        return stalled

    async def run(self) -> None:
        """Check now, then every :attr:`period_s`, until cancelled."""
        await every(self.period_s, self.check, log, f"stalled-job check of {self.name} not run")
