"""How long jobs stranded by kill -9 waited: just before each kill, the active jobs the victim
holds are read (a job's lock token starts with its worker's name, which names the process), and
the queues' event streams are tailed for ``stalled`` events (written by the stalled-job check
when it hands a job back). A stranded job's recovery time is its ``stalled`` event's time minus
the time of the kill that stranded it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import redis.asyncio as aredis

from ils.bootstrap import JobSystem
from ils.queue import keys


@dataclass
class Kill:
    at_ms: float
    active: set[tuple[str, str]]  # (queue, job id): ids are per queue


@dataclass
class StallWatch:
    """Tails the queues' event streams; :meth:`snapshot` just before each kill."""

    system: JobSystem
    queues: Sequence[str]
    kills: list[Kill] = field(default_factory=list)
    stalled: list[tuple[tuple[str, str], float]] = field(default_factory=list)
    failed_stalled: int = 0

    def _keys(self, name: str) -> dict[str, str]:
        return {q: self.system.broker.queues.get(q).keys[name] for q in self.queues}

    async def snapshot(self, victim_pid: int) -> None:
        """Record the active jobs held by the process about to be killed, and the time: call it
        right before the kill. (Jobs of the workers that live on are not stranded by it.)"""
        client = self.system.broker.admin_client
        mark = f":{victim_pid}:"
        held: set[tuple[str, str]] = set()
        for queue, key in self._keys("active").items():
            ids = [_text(x) for x in await client.lrange(key, 0, -1)]
            handle = self.system.broker.queues.get(queue)
            async with client.pipeline(transaction=False) as pipe:
                for job_id in ids:
                    pipe.get(keys.job_lock(handle, job_id))
                tokens = await pipe.execute()
            held |= {
                (queue, j) for j, by in zip(ids, tokens, strict=True) if by and mark in _text(by)
            }
        self.kills.append(Kill(time.time() * 1000, held))

    async def tail(self) -> None:
        """Read the event streams until cancelled, keeping ``stalled`` events."""
        client = aredis.from_url(self.system.broker.url, decode_responses=True)
        queue_of = {key: queue for queue, key in self._keys("events").items()}
        streams: dict[str, str] = dict.fromkeys(queue_of, "$")
        try:
            while True:
                try:
                    got = await client.xread(streams, block=1000, count=1000)
                except (aredis.ConnectionError, OSError):
                    await asyncio.sleep(0.5)
                    continue
                for stream, entries in got:
                    for entry_id, fields in entries:
                        streams[stream] = entry_id
                        if fields.get("event") == "stalled":
                            job = (queue_of[stream], fields["jobId"])
                            self.stalled.append((job, float(entry_id.split("-")[0])))
                        elif "stalled more than" in fields.get("failedReason", ""):
                            self.failed_stalled += 1
        finally:
            await client.aclose()

    def recovery_s(self) -> tuple[list[float], int]:
        """Each stalled job's recovery time, from the kill that stranded it: the last kill
        before its event whose victim held it (the job: queue and id). Also how many stalled
        events no snapshot explains (a job taken in the instant between a snapshot and its
        kill: timed from the last kill before the event)."""
        out, unexplained = [], 0
        for job, at_ms in self.stalled:
            before = [k for k in self.kills if k.at_ms < at_ms]
            held = [k for k in before if job in k.active]
            if held:
                first = held[-1]
            else:
                unexplained += 1
                first = before[-1] if before else Kill(at_ms, set())
            out.append((at_ms - first.at_ms) / 1000)
        return out, unexplained


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@contextlib.asynccontextmanager
async def watching(watch: StallWatch):  # type: ignore[no-untyped-def]
    task = asyncio.create_task(watch.tail())
    await asyncio.sleep(0.2)  # the first XREAD is under way: '$' means from now
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
