"""The embedded server killed with -9 while two workers drain a mix: the workers' supervision
must start it again (same port and password, its data from the append-only file)."""

from __future__ import annotations

import asyncio
import os
import signal
import time

from bench.chaos.audit import audit
from bench.chaos.common import Result, finish, not_completed
from bench.chaos.config import Config
from bench.chaos.mix import Mix
from bench.chaos.progress import resumed_after, wait_for
from bench.chaos.stack import stack

NAME = "embedded server killed"


async def restarted(s_pid: int, pid_of, timeout_s: float) -> float:  # type: ignore[no-untyped-def]
    """Seconds until the server answers with another pid."""
    start = time.time()
    while time.time() - start < timeout_s:
        pid = await asyncio.to_thread(pid_of)
        if pid is not None and pid != s_pid:
            return round(time.time() - start, 2)
        await asyncio.sleep(0.1)
    raise TimeoutError(f"the killed embedded server was not restarted within {timeout_s:.0f}s")


async def run(cfg: Config) -> Result:
    result = Result(NAME)
    async with stack(cfg.tuning) as (s, sink):
        expected = await Mix(s.system, "embedded").add(cfg.small_jobs)
        queues = sorted({e.queue for e in expected})
        start = time.monotonic()
        for _ in range(cfg.workers):
            s.start_worker()
        await wait_for(s.system, queues, len(expected) // 3, 120)
        pid = s.server_pid()
        assert pid is not None
        os.kill(pid, signal.SIGKILL)
        killed = time.time()
        back_s = await restarted(pid, s.server_pid, 60)
        resumed = await resumed_after(s.system, queues, killed, 60)
        await finish(s.system, expected, timeout_s=cfg.tuning.bound_s * 2 + 120)
        result.seconds = time.monotonic() - start
        result.jobs = len(expected)
        result.tallies = await audit(s.system, sink.messages, expected)
        result.failed = await not_completed(s.system, expected)
        result.figures = {"restarted_after_s": back_s, "resumed_after_s": resumed}
    return result
