"""Workers and retention (docs/guide/concepts.md): a worker of one queue announces itself by its
heartbeat while it runs that queue's jobs and leaves on a clean stop; the queue keeps only its
newest completed jobs (``keep_completed_count``, here 3 instead of 10,000), the older ones
trimmed as new ones complete.

Run it from the repository's root (``ils db upgrade`` first):
``python -m docs.examples.workers_retention``. The test suite runs :func:`main` on its own Redis
prefix and database, with :func:`settings` (``tests/test_docs_examples.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from typing import Any

from ils.bootstrap import JobSystem
from ils.errors import JobNotFound
from ils.queue.context import JobContext
from ils.queue.declare import job
from ils.queue.registry import Payload
from ils.settings import IlsSettings, load_settings


class Tick(Payload):
    n: int


@job(Tick, queue="oma", name="example-tick", description="counts one tick (example)")
async def tick(payload: Tick, ctx: JobContext[Any]) -> int:
    return payload.n


def settings(env: Mapping[str, str] | None = None) -> IlsSettings:
    """The environment's settings, with this module's job type and the ``oma`` queue keeping
    its 3 newest completed jobs (``ILS_QUEUE_OMA_KEEP_COMPLETED_COUNT=3`` does the same)."""
    loaded = load_settings(env, cli={"queues.oma.keep_completed_count": 3})
    return loaded.model_copy(update={"imports": (*loaded.imports, __name__)})


async def main(system: JobSystem) -> dict[str, Any]:
    """Run six ticks one after another; what the heartbeats and the queue show."""
    admin = system.admin
    runtime = system.runtime(("oma",))  # what `ils worker --queues oma` runs
    await runtime.start()
    try:
        while_running = (await admin.health())["workers"]["oma"]
        ids = []
        for n in range(6):
            sent = await tick.helper.using(producer=system.producer)(n=n)
            await admin.wait_for_job("oma", sent.job_id, timeout_s=30)
            ids.append(sent.job_id)
    finally:
        await runtime.stop()  # what SIGTERM does: no new jobs, active ones finish
    after_stop = (await admin.health())["workers"]["oma"]

    kept = []
    for job_id in ids:
        with contextlib.suppress(JobNotFound):  # not found: trimmed by the queue's retention
            kept.append((await admin.get_job("oma", job_id)).return_value)
    return {
        "workers": [while_running, after_stop],
        "completed": (await admin.stats(("oma",)))["oma"]["completed"],
        "kept": kept,
    }


async def _run() -> None:
    system = JobSystem(settings())
    try:
        print(await main(system))
    finally:
        await system.close()


if __name__ == "__main__":
    asyncio.run(_run())
