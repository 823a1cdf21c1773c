"""A Redis Cluster node of a test's own: the embedded server's binary started with
``cluster-enabled yes`` on a free loopback port, in the foreground, ready once it says so on its
standard output (read line by line, no polling), stopped when the block ends. A node that exits
before it is ready (its port taken meanwhile by another test's server) is started again on
another port."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from ils.queue.embedded import free_port, server_binary

READY = "Ready to accept connections"
ATTEMPTS = 3


class _Node:
    """One started node and what it printed; ``settled`` is set once it is ready or has ended."""

    def __init__(self, directory: Path) -> None:
        self.port = free_port()
        args = [
            server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
            "--cluster-enabled", "yes",
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
    directory.mkdir(parents=True, exist_ok=True)
    for _attempt in range(ATTEMPTS):
        node = _Node(directory)
        settled = node.settled.wait(timeout_s)
        if node.ready:
            break
        node.stop()
        assert settled, f"the cluster node did not start within {timeout_s} s"
    else:
        raise AssertionError(f"the cluster node would not start: {''.join(node.lines[-5:])}")
    try:
        yield f"redis://127.0.0.1:{node.port}/0"
    finally:
        node.stop()
