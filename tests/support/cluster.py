"""A Redis Cluster node of a test's own: the embedded server's binary started with
``cluster-enabled yes`` on a free loopback port, in the foreground, ready once it says so on its
standard output (read line by line, no polling), stopped when the block ends."""

from __future__ import annotations

import contextlib
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

from ils.queue.embedded import free_port, server_binary

READY = "Ready to accept connections"


@contextlib.contextmanager
def cluster_node(directory: Path, timeout_s: float = 15) -> Iterator[str]:
    """A one-node cluster (no slots assigned: enough to be a cluster node); its URL."""
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    args = [
        server_binary(), "--port", str(port), "--bind", "127.0.0.1",
        "--cluster-enabled", "yes", "--cluster-config-file", str(directory / "nodes.conf"),
        "--dir", str(directory), "--save", "", "--appendonly", "no", "--daemonize", "no",
    ]  # fmt: skip
    server = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    ready = threading.Event()

    def read() -> None:
        assert server.stdout is not None
        for line in server.stdout:  # until the server exits; the pipe never fills
            if READY in line:
                ready.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert ready.wait(timeout_s), f"the cluster node did not start within {timeout_s} s"
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(timeout=10)
        reader.join(timeout=10)
