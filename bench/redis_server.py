"""A Redis server of the bench's own, and what it did: commands by name and its CPU time.

``own_server()`` starts the embedded binary (``ils.queue.embedded.server_binary``) on a free
loopback port, without persistence and without a password, so that ``INFO commandstats`` and
``INFO cpu`` count the bench's work alone; it is shut down on exit. :func:`snapshot` reads both
at one instant; :func:`work_between` turns two snapshots into commands by name and the server's
CPU milliseconds, and :func:`per_thousand` scales them per 1,000 jobs. :func:`own_cluster`
starts three such servers in cluster mode and joins them into one Redis Cluster.
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
def own_server(db: int = 9, extra: tuple[str, ...] = ()) -> Iterator[str]:
    """A fresh server on 127.0.0.1 for the duration of the block (``extra``: more options);
    yields its URL."""
    port = free_port()
    args = [server_binary(), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--protected-mode", "yes", "--loglevel", "warning",
            *extra]  # fmt: skip
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


SLOTS = 16384


@contextlib.contextmanager
def own_cluster(directory: str, masters: int = 3) -> Iterator[list[str]]:
    """A Redis Cluster of ``masters`` fresh servers (no replicas), the slots split evenly in
    order; yields the nodes' URLs once every node says ``cluster_state:ok``."""
    # The bus ports named: by default each is its port + 10,000, past 65,535 for a high one.
    buses = [free_port() for _ in range(masters)]
    with contextlib.ExitStack() as stack:
        urls = [
            stack.enter_context(own_server(0, ("--cluster-enabled", "yes", "--cluster-config-file",
                                               f"{directory}/nodes-{i}.conf", "--dir", directory,
                                               "--cluster-port", str(bus))))
            for i, bus in enumerate(buses)
        ]  # fmt: skip
        clients = [redis.Redis.from_url(u, decode_responses=True) for u in urls]
        for client in clients:
            stack.callback(client.close)
        per = SLOTS // masters
        for i, client in enumerate(clients):
            last = SLOTS - 1 if i == masters - 1 else (i + 1) * per - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
        first_port = int(urls[0].rsplit(":", 1)[1].split("/")[0])
        for client in clients[1:]:
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", first_port, buses[0])
        deadline = time.monotonic() + START_TIMEOUT_S
        while not all(
            c.cluster("INFO").get("cluster_state") == "ok"
            and int(c.cluster("INFO").get("cluster_known_nodes", 0)) == masters
            for c in clients
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the cluster did not settle")
            time.sleep(0.05)
        yield urls


@dataclass
class ServerWork:
    """Commands by name (lower case, BullMQ's scripts are ``evalsha``) and server CPU seconds."""

    commands: Counter[str] = field(default_factory=Counter)
    cpu_s: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.commands.values())

    def __add__(self, other: ServerWork) -> ServerWork:
        return ServerWork(self.commands + other.commands, self.cpu_s + other.cpu_s)

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
