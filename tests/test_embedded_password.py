"""The embedded server's password: random, kept in a 0600 file, never on a command line, asked of
every client (an unauthenticated one gets NOAUTH), shared by every process reusing the server;
and the ``ils embedded`` commands work with it."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
from pathlib import Path

import redis

from ils.queue.embedded import EmbeddedServer, ServerState
from tests.conftest import REPO


def raw_command(port: int, command: bytes) -> bytes:
    """One command over a bare socket, as any local program could send it; the first reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(command)
        return sock.recv(256)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_it_asks_a_password_that_no_process_listing_shows(own_server: EmbeddedServer):
    url = own_server.ensure()
    state = own_server.status()
    assert state is not None
    password_file = own_server.directory / "password"
    password = password_file.read_text().strip()
    assert mode(password_file) == 0o600 and len(password) >= 40
    assert url == f"redis://:{password}@127.0.0.1:{state.port}/0"

    assert raw_command(state.port, b"PING\r\n").startswith(b"-NOAUTH")
    assert raw_command(state.port, b"KEYS *\r\n").startswith(b"-NOAUTH")
    assert raw_command(state.port, b"AUTH wrong\r\n").startswith(b"-WRONGPASS")
    client = redis.Redis.from_url(url)
    try:
        assert client.ping() is True
    finally:
        client.close()

    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True)
    assert password not in listing.stdout
    assert password.encode() not in Path(f"/proc/{state.pid}/cmdline").read_bytes()
    assert mode(own_server.directory / "valkey.conf") == 0o600
    assert password not in repr(state) and password not in state.shown_url


def test_every_process_reusing_it_reads_the_same_password(own_server: EmbeddedServer):
    url = own_server.ensure()
    again = EmbeddedServer(own_server.directory).ensure()
    assert again == url  # same server, same password: reused, not a second one
    fresh = EmbeddedServer(own_server.directory)
    assert fresh.status() == own_server.status()
    own_server.stop()
    # Restarted, it keeps its password (clients configured once keep working).
    assert own_server.ensure() == url


def test_a_server_left_without_a_password_is_replaced(own_server: EmbeddedServer):
    """An older version's server (no password) still running in the directory: it is stopped,
    with its data, and a protected one takes over."""
    directory = own_server.directory
    url = own_server.ensure()
    old = own_server.status()
    assert old is not None
    client = redis.Redis.from_url(url)
    try:
        client.set("kept", "yes")
        client.config_set("requirepass", "")  # as an older version started it
    finally:
        client.close()
    assert raw_command(old.port, b"PING\r\n") == b"+PONG\r\n"
    new_url = EmbeddedServer(directory).ensure()
    state = own_server.status()
    assert state is not None and state.pid != old.pid
    assert raw_command(state.port, b"PING\r\n").startswith(b"-NOAUTH")
    client = redis.Redis.from_url(new_url)
    try:
        assert client.get("kept") == b"yes"
    finally:
        client.close()


def ils(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ils", *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_embedded_commands_work_with_the_password(tmp_path: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    env |= {"ILS_VAR_DIR": str(tmp_path / "var"), "PYTHONPATH": str(REPO)}
    server = EmbeddedServer(tmp_path / "var" / "redis")
    try:
        url = server.ensure()
        password = (tmp_path / "var" / "redis" / "password").read_text().strip()
        status = ils(env, "embedded", "status")
        assert status.returncode == 0, status.stderr
        state = server.status()
        assert isinstance(state, ServerState)
        assert f"pid {state.pid}" in status.stdout and f":{state.port}/0" in status.stdout
        assert password not in status.stdout + status.stderr
        stopped = ils(env, "embedded", "stop")
        assert stopped.returncode == 0 and "embedded server stopped" in stopped.stdout
        assert server.status() is None
        assert ils(env, "embedded", "status").returncode == 1
        assert server.ensure() == url
    finally:
        server.stop()
