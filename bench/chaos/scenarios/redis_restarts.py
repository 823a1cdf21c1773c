"""Redis restarted twice (stopped with its data saved, started again on the same port) while two
workers drain a mix; how long after each restart the workers complete jobs again."""

from __future__ import annotations

import asyncio
import time

from bench.chaos.audit import audit
from bench.chaos.common import Result, finish, not_completed
from bench.chaos.config import Config
from bench.chaos.mix import Mix
from bench.chaos.progress import resumed_after, wait_for
from bench.chaos.stack import stack

NAME = "Redis restarted twice"


async def run(cfg: Config) -> Result:
    result = Result(NAME)
    async with stack(cfg.tuning) as (s, sink):
        expected = await Mix(s.system, "restarts").add(cfg.small_jobs)
        queues = sorted({e.queue for e in expected})
        start = time.monotonic()
        for _ in range(cfg.workers):
            s.start_worker()
        resumed = []
        for i in range(cfg.restarts):
            await wait_for(s.system, queues, len(expected) * (i + 1) // (cfg.restarts + 2), 120)
            await asyncio.to_thread(s.server.stop)
            await asyncio.sleep(2)  # down long enough for every client to notice
            await asyncio.to_thread(s.server.ensure)
            resumed.append(await resumed_after(s.system, queues, time.time(), 60))
        await finish(s.system, expected, timeout_s=cfg.tuning.bound_s * 2 + 120)
        result.seconds = time.monotonic() - start
        result.jobs = len(expected)
        result.tallies = await audit(s.system, sink.messages, expected)
        result.failed = await not_completed(s.system, expected)
        result.figures = {
            "restarts": cfg.restarts,
            "resumed_s": resumed,
            "resumed_max_s": max(resumed),
        }
    return result
