"""Poison and corrupt jobs among good ones: data that is not JSON (as a foreign producer might
write it) and names no job type has. Each must fail once with its reason (never retried, never
looping between active and stalled); the good jobs are untouched."""

from __future__ import annotations

import time

from bench.chaos.audit import audit
from bench.chaos.common import Result, finish, not_completed
from bench.chaos.config import Config
from bench.chaos.mix import Expected, Mix
from bench.chaos.stack import stack

from ils.queue import keys

NAME = "poison and corrupt jobs"
REASONS = {"corrupt": "job data is not JSON", "unknown": "unknown job type"}


async def run(cfg: Config) -> Result:
    result = Result(NAME)
    async with stack(cfg.tuning) as (s, sink):
        mix = Mix(s.system, "poison")
        await mix.world()
        queue = s.system.broker.queues.get("notification")
        poison: list[tuple[str, str]] = []
        good = []
        for i in range(cfg.poison):
            good += await mix.add(max(1, cfg.small_jobs // cfg.poison))
            if i % 2:
                job = await queue.add("no-such-type", {"i": i}, {"attempts": 3})
                poison.append((str(job.id), "unknown"))
            else:
                job = await queue.add("system", {"userId": 1}, {"attempts": 3})
                await s.system.broker.admin_client.hset(
                    keys.job_hash(queue, str(job.id)), "data", "{not json"
                )
                poison.append((str(job.id), "corrupt"))
        start = time.monotonic()
        for _ in range(cfg.workers):
            s.start_worker()
        bad = [Expected("poison", "notification", job_id) for job_id, _ in poison]
        await finish(s.system, good + bad, timeout_s=cfg.tuning.bound_s * 2 + 120)
        result.seconds = time.monotonic() - start
        result.jobs = len(good) + len(poison)
        result.tallies = await audit(s.system, sink.messages, good)
        result.failed = await not_completed(s.system, good)
        once = 0
        wrong = []
        for job_id, kind in poison:
            view = await s.system.admin.get_job("notification", job_id)
            if (
                view.state == "failed"
                and view.attempts_made == 1
                and REASONS[kind] in (view.failed_reason or "")
            ):
                once += 1
            else:
                wrong.append(
                    {
                        "job_id": job_id,
                        "kind": kind,
                        "state": view.state,
                        "attempts": str(view.attempts_made),
                        "reason": str(view.failed_reason),
                    }
                )
        result.failed += wrong
        result.figures = {"poison": len(poison), "poison_failed_once": once}
    return result
