"""A Redis server of the bench's own, and what it did: commands by name and its CPU time.

``own_server()`` starts the embedded binary (``ils.queue.embedded.server_binary``) on a free
loopback port, without persistence and without a password, so that ``INFO commandstats`` and
``INFO cpu`` count the bench's work alone; it is shut down on exit. :func:`snapshot` reads both
at one instant; :func:`work_between` turns two snapshots into commands by name and the server's
CPU milliseconds, and :func:`per_thousand` scales them per 1,000 jobs.
"""

from __future__ import annotations

import contextlib
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import redis

from ils.queue.embedded import free_port, server_binary

START_TIMEOUT_S = 15.0


@contextlib.contextmanager
def own_server(db: int = 9) -> Iterator[str]:
    """A fresh server on 127.0.0.1 for the duration of the block; yields its URL."""
    port = free_port()
    args = [server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning"]  # fmt: skip
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = redis.Redis(port=port, socket_connect_timeout=1, socket_timeout=5)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                client.ping()
                break
            except redis.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"no server started (exit {proc.poll()})") from None
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/{db}"
    finally:
        client.close()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


@dataclass
class ServerWork:
    """Commands by name (lower case, BullMQ's scripts are ``evalsha``) and server CPU seconds."""

    commands: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.commands.values())

    def __sub__(self, other: ServerWork) -> ServerWork:
        diff = Counter(self.commands)
        diff.subtract(other.commands)
        return ServerWork(+diff, self.cpu_s - other.cpu_s)

    def scaled(self, factor: float) -> ServerWork:
        return ServerWork(
            Counter({k: round(v * factor, 1) for k, v in self.commands.items()}),  # type: ignore[misc]
            self.cpu_s * factor,
        )


def snapshot(url: str) -> ServerWork:
    """The server's totals since it started (the INFO calls themselves are counted: 2 each)."""
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=1)
    try:
        stats = client.info("commandstats")
        cpu = client.info("cpu")
    finally:
        client.close()
    commands: Counter[str] = Counter()
    for key, value in stats.items():
        commands[key.removeprefix("cmdstat_").split("|")[0]] += int(value["calls"])
    return ServerWork(commands, float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]))


def per_thousand(work: ServerWork, jobs: int) -> ServerWork:
    return work.scaled(1000 / jobs)
