"""A Redis Cluster node, or a whole cluster, of a test's own: the embedded server's binary
started with ``cluster-enabled yes`` on free loopback ports, in the foreground, each node ready
once it says so on its standard output (read line by line, no polling), stopped when the block
ends. A node that exits before it is ready (its port taken meanwhile by another test's server) is
started again on another port. :func:`redis_cluster` joins three such nodes into a cluster."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import redis

from ils.queue.embedded import free_port, server_binary

READY = "Ready to accept connections"
ATTEMPTS = 3
SLOTS = 16384


class _Node:
    """One started node and what it printed; ``settled`` is set once it is ready or has ended."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        self.bus_port = free_port()  # named: by default the port + 10,000, past 65,535 if high
        args = [
            server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--cluster-enabled", "yes", "--cluster-port", str(self.bus_port),
            "--cluster-config-file", str(directory / f"nodes-{self.port}.conf"),
            "--dir", str(directory), "--save", "", "--appendonly", "no", "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        self.ready = False
        self.lines: list[str] = []
        self.settled = threading.Event()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:  # until the server exits; the pipe never fills
            self.lines.append(line)
            if READY in line:
                self.ready = True
                self.settled.set()
        self.settled.set()  # ended

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.reader.join(timeout=10)


@contextlib.contextmanager
def cluster_node(directory: Path, timeout_s: float = 30) -> Iterator[str]:
    """A one-node cluster (no slots assigned: enough to be a cluster node); its URL."""
    node = _started(directory, timeout_s)
    try:
        yield f"redis://127.0.0.1:{node.port}/0"
    finally:
        node.stop()


def _started(directory: Path, timeout_s: float) -> _Node:
    """A node started and ready (another port if its first one was taken meanwhile)."""
    directory.mkdir(parents=True, exist_ok=True)
    for _attempt in range(ATTEMPTS):
        node = _Node(directory)
        settled = node.settled.wait(timeout_s)
        if node.ready:
            return node
        node.stop()
        assert settled, f"the cluster node did not start within {timeout_s} s"
    raise AssertionError(f"the cluster node would not start: {''.join(node.lines[-5:])}")


def until_cluster_info(
    clients: list[redis.Redis], wanted: Callable[[list[dict[str, Any]]], bool], timeout_s: float
) -> None:
    """Return once the nodes' ``CLUSTER INFO`` (one per client, in order) is ``wanted``. Redis
    tells no one when its cluster state changes, so this polls, up to the timeout."""
    deadline = time.monotonic() + timeout_s
    pause = threading.Event()
    while True:
        infos = [c.cluster("INFO") for c in clients]
        if wanted(infos):
            return
        assert time.monotonic() < deadline, f"not as wanted in {timeout_s} s: {infos}"
        pause.wait(0.05)  # between two polls of the servers' own state: no event says it changed


def _settled(clients: list[redis.Redis], timeout_s: float) -> None:
    """Return once every node says ``cluster_state:ok`` and knows them all (its gossip settled)."""

    def settled(infos: list[dict[str, Any]]) -> bool:
        return all(
            i.get("cluster_state") == "ok" and int(i.get("cluster_known_nodes", 0)) == len(clients)
            for i in infos
        )

    until_cluster_info(clients, settled, timeout_s)


@contextlib.contextmanager
def redis_cluster(directory: Path, masters: int = 3, timeout_s: float = 30) -> Iterator[str]:
    """A Redis Cluster of ``masters`` nodes (no replicas) on free loopback ports, the 16384 slots
    split evenly in port order (``CLUSTER ADDSLOTSRANGE``), joined with ``CLUSTER MEET``; the
    first node's URL, once every node says the cluster is ok. Stopped when the block ends."""
    nodes: list[_Node] = []
    clients: list[redis.Redis] = []
    try:
        for i in range(masters):
            nodes.append(_started(directory / f"node{i}", timeout_s))
        clients = [redis.Redis(port=n.port, decode_responses=True) for n in nodes]
        per = SLOTS // masters
        for i, client in enumerate(clients):
            last = SLOTS - 1 if i == masters - 1 else (i + 1) * per - 1
            client.execute_command("CLUSTER", "ADDSLOTSRANGE", i * per, last)
        for client in clients[1:]:
            client.execute_command("CLUSTER", "MEET", "127.0.0.1", nodes[0].port, nodes[0].bus_port)
        _settled(clients, timeout_s)
        yield f"redis://127.0.0.1:{nodes[0].port}/0"
    finally:
        for client in clients:
            client.close()
        for node in nodes:
            node.stop()
