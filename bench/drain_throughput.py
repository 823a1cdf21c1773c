"""Benchmark (b): no-op jobs/s, our ``WorkerRuntime`` against a raw ``bullmq.Worker``.

One trial: pause the queue, pre-fill M identical no-op jobs (the data and job options our
producer builds), start P worker processes (spawned OS processes) and wait until each worker is
idle, blocked on the paused queue; then resume the queue and time, by polling
``Queue.getJobCounts``, until nothing is waiting or active. Every job must have completed.
Each worker process also reports the CPU time it spent meanwhile (it idles before and after),
a per-job cost that other load on the machine disturbs less than wall time.

Ours runs a ``WorkerRuntime`` for ``oma`` with the no-op handler registered; raw runs
``bullmq.Worker`` with a no-op processor, the same concurrency and retention (removeOnComplete,
removeOnFail) and a worker client from ``make_client(url, "worker")`` (no read timeout), as ours.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import time
from collections.abc import Awaitable, Callable
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from typing import Any

from bullmq import Queue, Worker

from ils.jobs import build_registry
from ils.queue.broker import make_client
from ils.queue.producer import job_options
from noop_jobs import JOB_NAME, QUEUE, filler, payload_data
from redis_scope import OurSide, delete_prefix, ils_settings

PENDING_STATES = ("wait", "paused", "prioritized", "delayed", "active", "waiting-children")
READY_TIMEOUT_S = 60.0
POLL_S = 0.01
PREFILL_BATCH = 500


# -- worker processes ---------------------------------------------------------------------------


async def _until_idle(worker_of: Callable[[], Worker | None], limit_s: float) -> None:
    """Wait until the worker exists and blocks waiting for a job: warm, and holding no job."""
    deadline = time.monotonic() + limit_s
    while True:
        worker = worker_of()
        if worker is not None and worker.waiting is not None:
            return
        if time.monotonic() > deadline:
            raise TimeoutError("worker never became idle")
        await asyncio.sleep(0.01)


async def _serve(ready: Event, stop: Event, cpu_s: Synchronized[float], max_s: float) -> None:
    """Say ready, then wait for ``stop``; ``cpu_s`` gets this process's CPU time meanwhile
    (the worker is idle before the queue resumes and after it is drained)."""
    started = time.process_time()
    ready.set()
    await asyncio.to_thread(stop.wait, max_s)
    cpu_s.value = time.process_time() - started


async def _run_ours(
    url: str,
    prefix: str,
    concurrency: int,
    ready: Event,
    stop: Event,
    cpu_s: Synchronized[float],
    max_s: float,
) -> None:
    ours = OurSide(url, prefix, concurrency)
    runtime = ours.runtime()
    try:
        await runtime.start()
        await runtime.wait_started(READY_TIMEOUT_S)
        await _until_idle(lambda: runtime.workers.get(QUEUE), READY_TIMEOUT_S)
        await _serve(ready, stop, cpu_s, max_s)
    finally:
        await runtime.stop(grace_s=5)
        await ours.close()


async def _noop_processor(job: Any, token: str) -> None:
    return None


async def _run_raw(
    url: str,
    prefix: str,
    options: dict[str, Any],
    ready: Event,
    stop: Event,
    cpu_s: Synchronized[float],
    max_s: float,
) -> None:
    opts = {**options, "connection": make_client(url, "worker"), "prefix": prefix, "autorun": False}
    worker = Worker(QUEUE, _noop_processor, opts)
    run = asyncio.create_task(worker.run())
    try:
        await _until_idle(lambda: worker, READY_TIMEOUT_S)
        await _serve(ready, stop, cpu_s, max_s)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(worker.close(), 10)
        if not run.done():
            run.cancel()
        await asyncio.gather(run, return_exceptions=True)


def worker_process(
    side: str,
    url: str,
    prefix: str,
    concurrency: int,
    raw_options: dict[str, Any],
    ready: Event,
    stop: Event,
    cpu_s: Synchronized[float],
    max_s: float,
) -> None:
    """Entry point of one spawned worker process; returns once ``stop`` is set (or ``max_s``)."""
    if side == "ours":
        asyncio.run(_run_ours(url, prefix, concurrency, ready, stop, cpu_s, max_s))
    else:  # "raw" (our options) or "engine" (BullMQ's defaults): the options differ
        asyncio.run(_run_raw(url, prefix, raw_options, ready, stop, cpu_s, max_s))


# -- one trial, run by the parent ---------------------------------------------------------------


def raw_worker_options(url: str, prefix: str, concurrency: int, side: str) -> dict[str, Any]:
    """The raw worker's options: our concurrency and our retention, nothing else of ours; the
    engine side's: none (BullMQ's defaults: concurrency 1, every finished job kept)."""
    if side == "engine":
        return {}
    spec = ils_settings(url, prefix, concurrency).queue(QUEUE)
    return {
        "concurrency": spec.concurrency,
        "removeOnComplete": {"age": spec.keep_completed_age_s, "count": spec.keep_completed_count},
        "removeOnFail": {"age": spec.keep_failed_age_s, "count": spec.keep_failed_count},
    }


async def timed_drain(
    queue: Queue, jobs: int, kept: int, side: str, limit_s: float
) -> tuple[float, int]:
    """Resume the paused, pre-filled ``queue`` and poll until nothing waits or runs; the seconds
    that took and the polls. Then every job must have completed (``kept`` of them at most stay
    in the completed set) and none failed."""
    started = time.perf_counter()
    await queue.resume()
    deadline = time.monotonic() + limit_s
    polls = 0
    while True:
        counts = await queue.getJobCounts(*PENDING_STATES)
        polls += 1
        if sum(counts.values()) == 0:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"{side}: jobs not drained within {limit_s:.0f}s: {counts}")
        await asyncio.sleep(POLL_S)
    seconds = time.perf_counter() - started
    final = await queue.getJobCounts("completed", "failed")
    expected = min(jobs, kept)
    if final["failed"] or final["completed"] != expected:
        raise RuntimeError(f"{side}: expected {expected} completed, 0 failed; got {final}")
    return seconds, polls


async def prefill(queue: Queue, jobs: int, opts: dict[str, Any], blob: str) -> None:
    for first in range(0, jobs, PREFILL_BATCH):
        batch = [
            {"name": JOB_NAME, "data": payload_data(seq, blob), "opts": opts}
            for seq in range(first, min(jobs, first + PREFILL_BATCH))
        ]
        await queue.addBulk(batch)


async def _wait_ready(processes: list[Any], events: list[Event]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while not all(e.is_set() for e in events):
        dead = [p for p in processes if not p.is_alive()]
        if dead:
            raise RuntimeError(f"a worker process exited early (exit code {dead[0].exitcode})")
        if time.monotonic() > deadline:
            raise TimeoutError("worker processes not ready in time")
        await asyncio.sleep(0.05)


def _stop_processes(processes: list[Any], stop: Event) -> None:
    stop.set()
    for p in processes:
        p.join(30)
    for p in processes:
        if p.is_alive():
            p.terminate()
            p.join(5)


async def trial(
    url: str,
    prefix: str,
    side: str,
    processes: int,
    jobs: int,
    concurrency: int,
    payload_bytes: int,
    limit_s: float,
    probe: Callable[[], Awaitable[Any]] | None = None,
) -> dict[str, Any]:
    """Drain ``jobs`` pre-filled no-op jobs with ``processes`` worker processes of ``side``
    (``ours``, ``raw``: BullMQ with our options, ``engine``: BullMQ with its defaults).
    ``probe``, when given, is awaited right before the resume and right after the drain; its
    two answers are returned as ``probed``, with the number of ``getJobCounts`` polls between."""
    settings = ils_settings(url, prefix, concurrency)
    spec = settings.queue(QUEUE)
    job_type = build_registry(settings.imports).get(QUEUE, JOB_NAME)
    opts = job_options(job_type, spec, None)
    queue = Queue(QUEUE, {"connection": make_client(url, "admin"), "prefix": prefix})
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    ready = [ctx.Event() for _ in range(processes)]
    cpu = [ctx.Value("d", 0.0) for _ in range(processes)]
    workers: list[Any] = []
    try:
        await queue.pause()
        await prefill(queue, jobs, opts, filler(payload_bytes))
        raw_options = raw_worker_options(url, prefix, concurrency, side)
        for event, cpu_s in zip(ready, cpu, strict=True):
            args = (side, url, prefix, concurrency, raw_options, event, stop, cpu_s, limit_s + 120)
            p = ctx.Process(target=worker_process, args=args, daemon=True)
            p.start()
            workers.append(p)
        await _wait_ready(workers, ready)

        probed = [await probe()] if probe is not None else []
        # Every side drains the same jobs, whose own options keep what the spec says.
        seconds, polls = await timed_drain(queue, jobs, spec.keep_completed_count, side, limit_s)
        if probe is not None:
            probed.append(await probe())
    finally:
        await asyncio.to_thread(_stop_processes, workers, stop)
        await queue.close()
        await asyncio.to_thread(delete_prefix, url, prefix)
    return {
        "side": side,
        "processes": processes,
        "jobs": jobs,
        "concurrency": concurrency,
        "seconds": round(seconds, 4),
        "jobs_per_s": round(jobs / seconds, 1),
        "worker_cpu_us_per_job": round(sum(c.value for c in cpu) / jobs * 1e6, 1),
        "polls": polls,
        "probed": probed,
    }
