"""Benchmark (a): the latency of one enqueue, ours (``Producer.enqueue``) against raw BullMQ.

Ours validates the pydantic payload, builds the job options and calls ``Queue.add``; raw calls
``bullmq.Queue.add`` with the same data and the very options ours builds (computed once, as a
caller of raw BullMQ would). Both use a producer client from ``make_client`` on the same Redis.
The N timed enqueues of each side run sequentially, in alternating blocks, after a warm-up.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from bullmq import Queue

from ils.queue.broker import make_client
from ils.queue.producer import job_options
from noop_jobs import JOB_NAME, QUEUE, filler, payload_data, wire_bytes
from redis_scope import OurSide
from reporting import latency_stats, ratio

Enqueue = Callable[[int], Awaitable[Any]]


async def _timed(enqueue: Enqueue, first: int, count: int, into: list[int]) -> None:
    for seq in range(first, first + count):
        started = time.perf_counter_ns()
        await enqueue(seq)
        into.append(time.perf_counter_ns() - started)


async def measure(
    url: str, prefix: str, enqueues: int, payload_bytes: int, warmup: int, blocks: int
) -> dict[str, Any]:
    """Time ``enqueues`` sequential enqueues per side; keys live under ``prefix``."""
    our_side = OurSide(url, f"{prefix}:ils", concurrency=1)
    settings = our_side.settings
    raw_queue = Queue(
        QUEUE, {"connection": make_client(url, "producer"), "prefix": f"{prefix}:raw"}
    )
    job_type = our_side.registry.get(QUEUE, JOB_NAME)
    raw_opts = job_options(job_type, settings.queue(QUEUE), None)
    blob = filler(payload_bytes)

    async def ours(seq: int) -> Any:
        return await our_side.producer.enqueue(QUEUE, JOB_NAME, payload_data(seq, blob))

    async def raw(seq: int) -> Any:
        return await raw_queue.add(JOB_NAME, payload_data(seq, blob), raw_opts)

    sides: dict[str, Enqueue] = {"ours": ours, "raw": raw}
    samples: dict[str, list[int]] = {"ours": [], "raw": []}
    try:
        for enqueue in sides.values():
            await _timed(enqueue, 0, warmup, [])  # connections, script loading
        blocks = max(1, min(blocks, enqueues))
        done = 0
        for block in range(blocks):
            count = enqueues // blocks + (1 if block < enqueues % blocks else 0)
            order = ("ours", "raw") if block % 2 == 0 else ("raw", "ours")
            for name in order:
                await _timed(sides[name], warmup + done, count, samples[name])
            done += count
    finally:
        await raw_queue.close()
        await our_side.close()

    stats = {name: latency_stats(values) for name, values in samples.items()}
    return {
        "enqueues": enqueues,
        "warmup": warmup,
        "blocks": blocks,
        "payload_bytes": wire_bytes(blob),
        "ours": stats["ours"],
        "raw": stats["raw"],
        "ratio": {
            k: ratio(stats["ours"][k], stats["raw"][k]) for k in ("p50_us", "p99_us", "mean_us")
        },
    }
