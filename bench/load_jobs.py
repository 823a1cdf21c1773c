"""The job side of ``make load``, read from the app's ``/metrics`` as an operator would: per queue
the jobs completed, failed and still pending, how long the oldest waiting job has waited, and the
web process's own state (loop lag, requests shed, outbox backlog).

:func:`snapshot` reads once; :class:`Sampler` reads every few seconds while the users run, so the
report shows the worst lag and not only the last; :func:`job_figures` turns the snapshots taken
before the users, when they stop and after the drain into completion, throughput and lag.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

QUEUES = ("email", "pdf", "notification", "ai", "oma", "scheduled")
PENDING = ("waiting", "active", "delayed", "prioritized")


async def snapshot(client: httpx.AsyncClient) -> dict[str, Any]:
    """One reading of ``/metrics``: per queue its state counts, completed/failed/retried runs
    and oldest waiting age; the outbox backlog, loop lag and shed requests; and when."""
    response = await client.get("/metrics")
    response.raise_for_status()
    queues: dict[str, dict[str, float]] = {q: {} for q in QUEUES}
    web: dict[str, float] = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            queue = queues.get(s.labels.get("queue", ""))
            if s.name == "ils_jobs" and queue is not None:
                queue[s.labels["state"]] = s.value
            elif s.name == "ils_jobs_processed_total" and queue is not None:
                outcome = s.labels["outcome"]
                queue[outcome + "_runs"] = queue.get(outcome + "_runs", 0.0) + s.value
            elif s.name == "ils_queue_oldest_waiting_seconds" and queue is not None:
                queue["oldest_waiting_s"] = s.value
            elif s.name in (
                "ils_outbox_pending", "ils_web_loop_lag_seconds", "ils_web_requests_shed_total",
                "ils_web_requests_inflight",
            ):  # fmt: skip
                web[s.name] = s.value
    return {"t": time.time(), "queues": queues, "web": web}


class Sampler:
    """Snapshots every ``every_s`` seconds in the background until :meth:`stop`."""

    def __init__(self, client: httpx.AsyncClient, every_s: float = 2.0) -> None:
        self.client, self.every_s = client, every_s
        self.samples: list[dict[str, Any]] = []
        self.failures = 0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.samples.append(await snapshot(self.client))
            except httpx.HTTPError:
                self.failures += 1  # the app too busy to answer its probe: seen in the report
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.every_s)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task


def _created(before: dict[str, float], after: dict[str, float]) -> float:
    """Jobs of one queue that came into being between two snapshots: those that ended since
    (completed or failed for good) and the growth of those still pending."""
    ended = sum(
        after.get(f"{o}_runs", 0.0) - before.get(f"{o}_runs", 0.0) for o in ("completed", "failed")
    )
    pending = sum(after.get(s, 0.0) - before.get(s, 0.0) for s in PENDING)
    return ended + pending


def job_figures(
    start: dict[str, Any], stop: dict[str, Any], end: dict[str, Any], samples: list[dict[str, Any]]
) -> dict[str, Any]:
    """Per queue, from the snapshots before the users (``start``), when they stopped (``stop``)
    and after the drain (``end``): jobs created, completed and failed, the completion rate at
    ``stop`` and ``end``, completions per minute while the users ran (and the jobs asked for
    per minute), and the oldest waiting job's age: worst sampled, and at ``stop`` and ``end``."""
    load_min = max(1e-9, (stop["t"] - start["t"]) / 60)
    out: dict[str, Any] = {}
    for queue in QUEUES:
        q0, q1, q2 = start["queues"][queue], stop["queues"][queue], end["queues"][queue]
        created = _created(q0, q2)
        completed = q2.get("completed_runs", 0.0) - q0.get("completed_runs", 0.0)
        completed_at_stop = q1.get("completed_runs", 0.0) - q0.get("completed_runs", 0.0)
        created_at_stop = _created(q0, q1)
        ages = [s["queues"][queue].get("oldest_waiting_s", 0.0) for s in samples]
        out[queue] = {
            "created": int(created),
            "completed": int(completed),
            "failed": int(q2.get("failed_runs", 0.0) - q0.get("failed_runs", 0.0)),
            "retried": int(q2.get("retried_runs", 0.0) - q0.get("retried_runs", 0.0)),
            "pending_end": int(sum(q2.get(s, 0.0) for s in PENDING)),
            "completion_at_stop": round(completed_at_stop / created_at_stop, 4)
            if created_at_stop
            else None,
            "completion_end": round(completed / created, 4) if created else None,
            "completed_per_min": round(completed_at_stop / load_min, 1),
            "created_per_min": round(created_at_stop / load_min, 1),
            "lag_max_s": round(max(ages, default=0.0), 1),
            "lag_at_stop_s": round(q1.get("oldest_waiting_s", 0.0), 1),
            "lag_end_s": round(q2.get("oldest_waiting_s", 0.0), 1),
        }
    # Jobs still in the outbox (committed with their rows, not yet in Redis) count as created.
    outbox = end["web"].get("ils_outbox_pending", 0.0) - start["web"].get("ils_outbox_pending", 0.0)
    created = sum(q["created"] for q in out.values()) + int(outbox)
    completed = sum(q["completed"] for q in out.values())
    lags = [s["web"].get("ils_web_loop_lag_seconds", 0.0) for s in samples]
    return {
        "queues": out,
        "created": created,
        "completed": completed,
        "completion_end": round(completed / created, 4) if created else None,
        "outbox_pending_end": int(end["web"].get("ils_outbox_pending", 0.0)),
        "shed_503": int(
            end["web"].get("ils_web_requests_shed_total", 0.0)
            - start["web"].get("ils_web_requests_shed_total", 0.0)
        ),
        "web_loop_lag_max_ms": round(max(lags, default=0.0) * 1000, 1),
    }


def settled(now: dict[str, Any]) -> bool:
    """No job of any queue pending and the outbox empty (scheduled jobs waiting for their time
    aside)."""
    busy = sum(now["queues"][q].get(s, 0.0) for q in QUEUES if q != "scheduled" for s in PENDING)
    return busy == 0 and now["web"].get("ils_outbox_pending", 0.0) == 0


async def drain(
    client: httpx.AsyncClient, budget_s: float, done: Callable[[dict[str, Any]], bool] = settled,
    every_s: float = 1.0,
) -> float:  # fmt: skip
    """Read ``/metrics`` every ``every_s`` until ``done`` says so, at most ``budget_s``; the
    seconds it took."""
    t0 = time.perf_counter()
    while not done(await snapshot(client)):
        left = budget_s - (time.perf_counter() - t0)
        if left <= 0:
            break
        await asyncio.sleep(min(every_s, left))
    return round(time.perf_counter() - t0, 1)
