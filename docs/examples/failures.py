"""Dead letters, cancellation and deduplication, end to end (docs/failures.md runs through it).

Run it from the repository's root against the configured Redis and database (``ils db upgrade``
first): ``python -m docs.examples.failures``. The test suite runs :func:`main` on its own Redis
prefix and database (``tests/test_docs_examples.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from ils.bootstrap import JobSystem
from ils.errors import GiveUp
from ils.queue.context import JobContext
from ils.queue.declare import job
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import Payload
from ils.queue.tenancy import PLATFORM


class Charge(Payload):
    amount_cents: int


class Count(Payload):
    to: int = 10_000


@job(Charge, queue="oma", name="example-charge", attempts=2, backoff_delay_ms=50,
     description="a charge the card processor keeps declining (example)")  # fmt: skip
async def charge(payload: Charge, ctx: JobContext[Any]) -> None:
    if ctx.is_last_attempt:
        raise GiveUp(f"card declined twice for {payload.amount_cents} cents")
    raise RuntimeError("card processor timed out")


@job(Count, queue="oma", name="example-count",
     description="counts, one step at a time, until told to stop (example)")  # fmt: skip
async def count(payload: Count, ctx: JobContext[Any]) -> int:
    for step in range(payload.to):
        ctx.check_cancelled(f"at step {step}")  # a natural step: stopping here loses nothing
        await ctx.progress(step)
        await asyncio.sleep(0.01)  # the step's own work
    return payload.to


async def main(system: JobSystem) -> dict[str, Any]:
    """Each feature once; what happened, for the reader (and the test) to check."""
    admin, producer = system.admin, system.producer
    runtime = system.runtime(("oma",))
    await runtime.start()
    try:
        # 1. A job that fails for good becomes a dead letter (recorded before BullMQ fails it).
        failed = await producer.enqueue("oma", "example-charge", {"amountCents": 4200})
        await admin.wait_for_job("oma", failed.job_id, timeout_s=30)
        async with system.database.session() as session:
            page = await admin.dead_letters.page(session, PLATFORM)
            dead = next(d for d in page["dead_letters"] if d["job_id"] == failed.job_id)
            # 2. Replaying it enqueues a new job, dlq-<id>; replaying again returns the same.
            first = await admin.dead_letters.replay(session, PLATFORM, dead["id"])
            again = await admin.dead_letters.replay(session, PLATFORM, dead["id"])

        # 3. A running job is asked to stop: it ends "cancelled" at its next step.
        counting = await producer.enqueue("oma", "example-count", {})
        await admin.wait_for_job("oma", counting.job_id, timeout_s=30, states=("active",))
        asked = (await admin.actions.cancel("oma", counting.job_id)).outcome
        stopped = await admin.wait_for_job("oma", counting.job_id, timeout_s=30)

        # 4. A job not running yet (here: due in an hour) is removed.
        later = await producer.enqueue("oma", "example-count", {}, EnqueueOptions(delay_s=3600))
        removed = (await admin.actions.cancel("oma", later.job_id)).outcome
    finally:
        await runtime.stop()
    return {
        "dead_letter": {"reason": dead["reason"], "attempts": dead["attempts"]},
        "replays": [first.job_id, again.job_id, again.enqueued],
        "cancel": [asked, stopped.state, stopped.return_value["_ilsCancelled"]["reason"]],
        "not_yet_running": removed,
    }


async def _run() -> None:
    from ils.settings import load_settings

    settings = load_settings()
    settings = settings.model_copy(update={"imports": (*settings.imports, __name__)})
    system = JobSystem(settings)
    try:
        print(await main(system))
    finally:
        await system.close()


if __name__ == "__main__":
    asyncio.run(_run())
