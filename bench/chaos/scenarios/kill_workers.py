"""kill -9 of a worker every few seconds while two ``ils worker`` processes drain a mix of jobs of
every kind; each killed worker is replaced at once, and the next kill comes a few seconds after
the replacement's first heartbeat. Measures how long the stranded jobs waited
against lock duration + one stalled-check interval."""

from __future__ import annotations

import asyncio
import time

from bench.chaos.audit import audit
from bench.chaos.common import Result, finish, log, not_completed, percentile, unfinished
from bench.chaos.config import Config
from bench.chaos.mix import Mix
from bench.chaos.stack import stack
from bench.chaos.stalls import StallWatch, watching

NAME = "kill -9 workers"


async def run(cfg: Config) -> Result:
    result = Result(NAME)
    async with stack(cfg.tuning) as (s, sink):
        mix = Mix(s.system, "kill")
        expected = await mix.add(cfg.jobs)
        queues = sorted({e.queue for e in expected})
        watch = StallWatch(s.system, queues)
        start = time.monotonic()
        async with watching(watch):
            for _ in range(cfg.workers):
                await s.wait_working(s.start_worker())
            victim = 0
            while (left := await unfinished(s.system, expected)) != 0:
                await asyncio.sleep(cfg.kill_every_s)
                await watch.snapshot(s.victim(victim).pid)
                killed = time.monotonic()
                # The next kill waits for the replacement to work: on a loaded machine a worker
                # killed before it took a job would only measure start-ups.
                await s.wait_working(s.kill_worker(victim))
                victim += 1
                log(f"kill {victim} at {killed - start:.0f}s: {left} jobs left, "
                    f"replacement working after {time.monotonic() - killed:.1f}s")  # fmt: skip
            await finish(s.system, expected, timeout_s=cfg.tuning.bound_s * 3 + 60)
            await asyncio.sleep(1)  # the last events read
        result.seconds = time.monotonic() - start
        result.jobs = len(expected)
        result.tallies = await audit(s.system, sink.messages, expected)
        result.failed = await not_completed(s.system, expected)
        times, unexplained = watch.recovery_s()
        result.figures = {
            "kills": len(watch.kills),
            "stranded": len(times),
            "recovery_p50_s": percentile(times, 0.5),
            "recovery_max_s": percentile(times, 1.0),
            "bound_s": cfg.tuning.bound_s,
            "within_bound": all(t <= cfg.tuning.bound_s for t in times),
            "stranded_without_snapshot": unexplained,
            "failed_stalled_too_often": watch.failed_stalled,
            "recovery_s": sorted(round(t, 2) for t in times),
        }
    return result
