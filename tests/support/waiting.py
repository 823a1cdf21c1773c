"""Waiting in tests on events, not on a clock: until a set of queues has nothing left to run
(woken by the queues' own BullMQ event streams), and until a file appears under a folder (woken
by the file system's notifications, through watchdog). Each condition is checked first, then
after every event, and fails with what it saw once its timeout has passed."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import redis.asyncio as aredis
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

from ils.bootstrap import JobSystem

#: The states of a job that has still to run (or to finish running).
PENDING = ("waiting", "active", "delayed", "prioritized", "waiting-children")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def until_quiet(system: JobSystem, queues: Sequence[str], timeout_s: float = 30) -> None:
    """Return once none of ``queues`` holds a job waiting, delayed or running; re-checked after
    each entry of the queues' event streams (a job added, moved, completed or failed), read
    with a blocking XREAD on each queue's server (queues may be on servers of their own; on a
    Redis Cluster one XREAD per queue, each stream on its own slot). Fails (with the last counts)
    after ``timeout_s``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    servers: dict[str, dict[str, str]] = {}
    cluster = system.settings.redis_cluster
    for q in queues:
        where = q if cluster else system.broker.url_for(q)
        servers.setdefault(where, {})[system.admin.queue(q).keys["events"]] = "$"
    # Clients of their own: the reads block their connections.
    clients = {
        where: system.broker.client("worker", queue=where) if cluster else aredis.from_url(where)
        for where in servers
    }
    try:
        await _until_quiet(system, queues, timeout_s, deadline, servers, clients)
    finally:
        for client in clients.values():
            await client.aclose()


async def _until_quiet(
    system: JobSystem,
    queues: Sequence[str],
    timeout_s: float,
    deadline: float,
    servers: dict[str, dict[str, str]],
    clients: dict[str, aredis.Redis],
) -> None:
    loop = asyncio.get_running_loop()
    for url, streams in servers.items():
        # From the newest entry now, so nothing between check and read is missed.
        for key in streams:
            newest = await clients[url].xrevrange(key, count=1)
            streams[key] = _text(newest[0][0]) if newest else "0-0"
    while True:
        stats = await system.admin.stats(list(queues))
        if all(sum(counts.get(s, 0) for s in PENDING) == 0 for counts in stats.values()):
            return
        left_ms = int((deadline - loop.time()) * 1000)
        assert left_ms > 0, f"queues not quiet after {timeout_s} s: {stats}"
        # One server: block until its next event; several: each in turn, briefly.
        block_ms = left_ms if len(servers) == 1 else min(left_ms, 100)
        for url, streams in servers.items():
            # A delayed job's promotion writes an entry too.
            read = await clients[url].xread(streams, block=block_ms)
            for key, entries in read or []:
                streams[_text(key)] = _text(entries[-1][0])


class _Appeared(FileSystemEventHandler):
    def __init__(self, loop: asyncio.AbstractEventLoop, event: asyncio.Event) -> None:
        self.loop = loop
        self.event = event

    def on_any_event(self, event: FileSystemEvent) -> None:
        self.loop.call_soon_threadsafe(self.event.set)


@contextlib.contextmanager
def _watching(folder: Path, event: asyncio.Event) -> Iterator[None]:
    observer = Observer()
    observer.schedule(_Appeared(asyncio.get_running_loop(), event), str(folder), recursive=True)
    observer.start()
    try:
        yield
    finally:
        observer.stop()
        observer.join()


async def file_appears(folder: Path, pattern: str, timeout_s: float = 30) -> Path:
    """The first file under ``folder`` matching ``pattern``: checked now and after every change
    the file system reports under the folder (or, while it does not exist, its nearest existing
    parent)."""
    watched = next(p for p in (folder, *folder.parents) if p.is_dir())
    changed = asyncio.Event()

    def found() -> Path | None:
        matches = sorted(folder.rglob(pattern)) if folder.is_dir() else []
        return matches[0] if matches else None

    with _watching(watched, changed):
        return await _until(found, changed, timeout_s, f"no {pattern} under {folder}")


async def _until(
    check: Callable[[], Any], changed: asyncio.Event, timeout_s: float, what: str
) -> Any:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        changed.clear()
        result = check()
        if result:
            return result
        left = deadline - loop.time()
        assert left > 0, what
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(changed.wait(), left)
