"""A job type from scratch, enqueued from Python (docs/guide/concepts.md walks through it).

One declaration gives the job type, its typed helper and its JSON schema. The example enqueues it
directly, then through the outbox in a database transaction (committed, and rolled back), shows
a retry, and what a bad argument does. Run it from the repository's root against the configured
Redis and database (``ils db upgrade`` first): ``python -m docs.examples.first_job``. The test
suite runs :func:`main` on its own Redis prefix and database (``tests/test_docs_examples.py``).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from ils.bootstrap import JobSystem
from ils.errors import InvalidJobPayload, JobNotFound
from ils.queue.context import JobContext
from ils.queue.declare import job
from ils.queue.registry import Payload


class LensLabel(Payload):  # snake_case here, camelCase on the wire (``orderNumber``)
    order_number: str
    eye: Literal["R", "L"]


@job(LensLabel, queue="oma", name="example-lens-label", attempts=3, backoff_delay_ms=50,
     description="prints the label of one lens (example)")  # fmt: skip
async def lens_label(payload: LensLabel, ctx: JobContext[Any]) -> str:
    if ctx.attempt == 1:
        raise RuntimeError("label printer warming up")  # the first attempt fails: retried
    return f"{payload.order_number} {payload.eye}"


queue_lens_label = lens_label.helper  # typed: (*, order_number: str, eye: "R" | "L")


async def main(system: JobSystem) -> dict[str, Any]:
    """Each way of enqueueing once; what happened, for the reader (and the test) to check."""
    admin = system.admin
    runtime = system.runtime(("oma",))
    await runtime.start()
    try:
        # 1. Straight to BullMQ through the producer; the first attempt fails, the second runs.
        direct = await queue_lens_label.using(producer=system.producer)(
            order_number="A-1001", eye="R"
        )
        done = await admin.wait_for_job("oma", direct.job_id, timeout_s=30)

        # 2. Through the outbox: written in the transaction, relayed to BullMQ once it commits.
        async with system.database.session() as session:
            in_tx = await queue_lens_label.using(session=session)(order_number="A-1002", eye="L")
        relayed = await admin.wait_for_job("oma", in_tx.job_id, timeout_s=30)

        # 3. A transaction that rolls back enqueues nothing.
        try:
            async with system.database.session() as session:
                dropped = await queue_lens_label.using(session=session)(
                    order_number="A-1003", eye="L"
                )
                raise LookupError("the order was not found after all")
        except LookupError:
            pass
        try:
            await admin.get_job("oma", dropped.job_id)
            rolled_back = "in BullMQ"
        except JobNotFound:
            rolled_back = "never enqueued"

        # 4. A bad argument is refused before anything is enqueued, naming the field.
        try:
            await queue_lens_label.using(producer=system.producer)(order_number="A-1004", eye="X")
        except InvalidJobPayload as exc:
            refused = [e["field"] for e in exc.errors]
    finally:
        await runtime.stop()
    return {
        "direct": [direct.mode, done.state, done.attempts_made, done.return_value],
        "outbox": [in_tx.mode, relayed.state, relayed.return_value],
        "rolled_back": rolled_back,
        "refused": refused,
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
