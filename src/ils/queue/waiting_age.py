"""How long the oldest job of a queue has been waiting to run: the age ``/metrics`` shows as
``ils_queue_oldest_waiting_seconds`` (what an alert on a stuck or starved queue watches).

BullMQ pushes new jobs on the left of its ``wait`` list and takes them from the right, so the
oldest waiting job is the list's last item; a job with a priority waits in the ``prioritized``
sorted set instead, whose first member runs next. A job waits since it was added, or since its
delay ran out for a delayed one (``timestamp + delay`` of its hash).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from ils.queue import keys

if TYPE_CHECKING:
    import redis.asyncio as aredis


async def oldest_waiting_s(
    client: aredis.Redis, prefix: str, queue: str, now_ms: int | None = None
) -> float:
    """Seconds the longest-waiting job of ``queue`` has waited (0 when none waits)."""
    head = keys.queue_key_prefix(prefix, queue)
    async with client.pipeline(transaction=False) as pipe:
        pipe.lindex(f"{head}wait", -1)
        pipe.zrange(f"{head}prioritized", 0, 0)
        last, first_prioritized = await pipe.execute()
    ids = [str(j) for j in (last, *(first_prioritized or [])) if j is not None]
    if not ids:
        return 0.0
    async with client.pipeline(transaction=False) as pipe:
        for job_id in ids:
            pipe.hmget(f"{head}{job_id}", "timestamp", "delay")
        rows = await pipe.execute()
    now = int(time.time() * 1000) if now_ms is None else now_ms
    since = [int(ts) + int(delay or 0) for ts, delay in rows if ts is not None]
    if not since:
        return 0.0
    return max(0.0, (now - min(since)) / 1000)
