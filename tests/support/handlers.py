"""Job types and handlers used only by the tests; loaded with ``--import tests.support.handlers``
(``Settings.imports``): the probe types are declared on every queue.

Handlers record what they did in Redis under the test's own prefix, so a test can see from
outside (and across processes) how often a job ran and in which order.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import redis
import redis.asyncio as aredis

from ils.errors import GiveUp, JobCancelled, RetryLater
from ils.jobs.resources import Ctx
from ils.jobs.scheduled.runs import scheduled
from ils.queue.declare import JobDef, job
from ils.queue.registry import JobType, Payload
from ils.queue.settings import QUEUE_NAMES


class Probe(Payload):
    tag: str = "x"
    fail_times: int = 0
    block_s: float = 0
    retry_later_s: float = 0
    give_up: bool = False
    wait_release: bool = False
    until_cancelled: bool = False
    broken: bool = False  # fail while the test's "broken" key is set (see Records.break_probes)


def _prefix(ctx: Ctx) -> str:
    return ctx.resources.producer.settings.prefix


def _url(ctx: Ctx) -> str:
    return ctx.resources.producer.broker.url


def _client(ctx: Ctx) -> aredis.Redis:
    """A client of the deployment's Redis (a cluster client on a Redis Cluster), no read timeout
    (a probe may block on its release)."""
    return ctx.resources.producer.broker.client("worker", name="ils-test-probe")


def record_key(prefix: str, what: str) -> str:
    return f"{prefix}:test:{what}"


async def probe(payload: Probe, ctx: Ctx) -> dict[str, Any]:
    """Counts its runs; fails, snoozes, gives up or blocks as the payload says."""
    async with _client(ctx) as client:
        return await _probe(client, _prefix(ctx), payload, ctx)


async def _probe(client: aredis.Redis, prefix: str, payload: Probe, ctx: Ctx) -> dict[str, Any]:
    runs = await client.incr(record_key(prefix, f"runs:{ctx.queue}:{ctx.job_id}"))
    await client.rpush(record_key(prefix, "order"), f"{ctx.queue}:{payload.tag}")
    await client.rpush(record_key(prefix, f"times:{ctx.job_id}"), f"{time.time()}")
    await ctx.log(f"run {runs} of {payload.tag}")
    if payload.give_up:
        raise GiveUp("permanent problem")
    if payload.retry_later_s and runs == 1:
        raise RetryLater(payload.retry_later_s, "not yet")
    if runs <= payload.fail_times:
        raise RuntimeError(f"transient failure {runs}")
    if payload.broken and await client.exists(record_key(prefix, "broken")):
        raise RuntimeError("still broken")
    if payload.wait_release and runs == 1:
        # Hold the job until the test releases it (or the process is killed).
        await client.rpush(record_key(prefix, "started"), ctx.job_id)
        await client.blpop([record_key(prefix, f"release:{ctx.job_id}")], timeout=60)
    if payload.until_cancelled:
        await client.rpush(record_key(prefix, "started"), ctx.job_id)
        if await ctx.wait_cancelled(60):
            raise JobCancelled("stopped on request")
    if payload.block_s:
        await ctx.run_sync(threading.Event().wait, payload.block_s)
    # The idempotent side effect: keyed by job id, it happens once however often we run, and in
    # one command (a mark then a count, two commands, lost the count when a kill fell between).
    await client.sadd(record_key(prefix, "effects"), ctx.job_id)
    return {"runs": runs, "tag": payload.tag}


def blocking_probe(payload: Probe, ctx: Ctx) -> str:
    """A sync handler doing blocking work: the runtime must run it off the event loop."""
    prefix = _prefix(ctx)
    client = redis.Redis.from_url(_url(ctx), decode_responses=True)
    try:
        client.incr(record_key(prefix, f"runs:{ctx.queue}:{ctx.job_id}"))
        threading.Event().wait(payload.block_s)
        return "done"
    finally:
        client.close()


PROBES = tuple(
    job(Probe, queue=queue, name="test-probe", description="counts its runs (tests)",
        resources=("producer",))(probe)
    for queue in QUEUE_NAMES
)  # fmt: skip
BLOCKING_PROBES = tuple(
    job(Probe, queue=queue, name="test-blocking", description="blocks a thread (tests)",
        resources=("producer",))(blocking_probe)
    for queue in QUEUE_NAMES
)  # fmt: skip
# The probe as a job type of the scheduled queue: its runs take the schedules' first step (written
# to their row; a missed one skipped, a run for a time already run not run) before the probe.
SCHEDULED_PROBE = scheduled(Probe, name="test-scheduled-probe",
                            description="counts its runs, as a schedule's (tests)",
                            resources=("producer",))(probe)  # fmt: skip
# A type with no handler: its jobs fail with "no handler for <queue>/test-unhandled".
UNHANDLED = tuple(JobDef(Probe, JobType(queue, "test-unhandled", Probe)) for queue in QUEUE_NAMES)


async def parent_probe(payload: Probe, ctx: Ctx) -> dict[str, Any]:
    """A flow's parent (or a batch's callback): counts its runs and returns what it saw of its
    children (their outcomes, or only their counts for a batch)."""
    async with _client(ctx) as client:
        prefix = _prefix(ctx)
        runs = await client.incr(record_key(prefix, f"runs:{ctx.queue}:{ctx.job_id}"))
        await client.rpush(record_key(prefix, "order"), f"{ctx.queue}:{payload.tag}")
    assert ctx.flow is not None
    counts = await ctx.flow.counts()
    if payload.tag == "batch":
        return {"runs": runs, "counts": counts}
    outcomes = [
        {"key": o.key, "name": o.name, "completed": o.completed, "value": o.value}
        for o in await ctx.flow.outcomes()
    ]
    return {"runs": runs, "counts": counts, "children": outcomes}


PARENT_PROBES = tuple(
    job(Probe, queue=queue, name="test-parent", description="a flow's parent (tests)",
        resources=("producer",))(parent_probe)
    for queue in QUEUE_NAMES
)  # fmt: skip
