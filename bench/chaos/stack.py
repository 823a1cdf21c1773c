"""One scenario's deployment, started in a fresh directory and torn down after: its own embedded
server (on a free port, never the machine's Redis), a migrated SQLite database, a real SMTP sink
(aiosmtpd), ``ils worker`` subprocesses it can kill and restart, optionally ``ils serve``, and a
job system in this process for enqueueing, admin reads and the audit."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.support.smtp import RecordingHandler, smtp_env, smtp_server

from ils.bootstrap import JobSystem
from ils.queue.embedded import EmbeddedServer, free_port
from ils.settings import load_settings

REPO = Path(__file__).resolve().parents[2]
QUEUES = ("email", "pdf", "notification", "ai", "oma", "scheduled")


@dataclass(frozen=True)
class Tuning:
    """What a scenario may change in the deployment's settings."""

    lock_ms: int = 10_000
    stalled_ms: int = 5_000
    concurrency: int = 8

    def env(self) -> dict[str, str]:
        """Every queue's lock and stalled-check interval, its rate limit lifted (the suite
        measures loss, not the limiter), and the busy queues' concurrency."""
        out = {
            "ILS_HEARTBEAT_INTERVAL_S": "1",
            "ILS_SHUTDOWN_GRACE_S": "5",
            "ILS_QUOTA_ORDER_USER": "none",
            "ILS_QUOTA_ORDER_COMPANY": "none",
        }
        for q in QUEUES:
            up = q.upper()
            out[f"ILS_QUEUE_{up}_LOCK_DURATION_MS"] = str(self.lock_ms)
            out[f"ILS_QUEUE_{up}_STALLED_INTERVAL_MS"] = str(self.stalled_ms)
            out[f"ILS_QUEUE_{up}_RATE_MAX"] = "none"
            out[f"ILS_QUEUE_{up}_KEEP_COMPLETED_COUNT"] = "50000"
        for q in ("email", "notification"):
            out[f"ILS_QUEUE_{q.upper()}_CONCURRENCY"] = str(self.concurrency)
        return out

    @property
    def bound_s(self) -> float:
        """How long a job stranded by kill -9 may wait: lock duration + one check interval."""
        return (self.lock_ms + self.stalled_ms) / 1000


class Stack:
    """The processes and files of one scenario; :func:`stack` starts and stops it."""

    def __init__(self, tuning: Tuning, smtp_port: int) -> None:
        self.tuning = tuning
        self.work = Path(tempfile.mkdtemp(prefix="ils-chaos-"))
        self.var = self.work / "var"
        self.port = free_port()
        base = {
            k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_", "DATABASE"))
        }
        self.env = (
            base
            | smtp_env(smtp_port)
            | tuning.env()
            | {
                "ILS_VAR_DIR": str(self.var),
                "ILS_EMBEDDED_PORT": str(self.port),
                "PYTHONPATH": str(REPO / "src"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.server = EmbeddedServer(self.var / "redis", port=self.port)
        self.workers: list[subprocess.Popen[bytes]] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self._system: JobSystem | None = None

    @property
    def system(self) -> JobSystem:
        if self._system is None:
            self._system = JobSystem(load_settings(self.env))
        return self._system

    def _spawn(self, *args: str, log: str) -> subprocess.Popen[bytes]:
        out = (self.work / log).open("ab")
        return subprocess.Popen(
            [sys.executable, "-m", "ils", *args, "--log-level", "WARNING"],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=self.work,
        )

    def prepare(self) -> None:
        """The migrated database and the embedded server (this process its first user)."""
        self.var.mkdir(mode=0o700)
        subprocess.run(
            [sys.executable, "-m", "ils", "db", "upgrade"],
            env=self.env,
            check=True,
            capture_output=True,
        )
        self.server.ensure()

    def start_worker(self) -> subprocess.Popen[bytes]:
        proc = self._spawn("worker", log=f"worker-{len(self.workers)}.log")
        self.workers.append(proc)
        return proc

    def victim(self, index: int) -> subprocess.Popen[bytes]:
        """The live worker :meth:`kill_worker` would kill for ``index``."""
        live = [w for w in self.workers if w.poll() is None]
        return live[index % len(live)]

    def kill_worker(self, index: int) -> subprocess.Popen[bytes]:
        """kill -9 one of the live workers (by its place among them); its replacement."""
        victim = self.victim(index)
        victim.send_signal(signal.SIGKILL)
        victim.wait()
        return self.start_worker()

    async def wait_working(self, proc: subprocess.Popen[bytes], timeout_s: float = 120) -> None:
        """Until ``proc`` has sent its first heartbeat (its queues are being worked)."""
        client = self.system.broker.admin_client
        prefix = self.system.settings.prefix
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"worker {proc.pid} exited; see its log in {self.work}")
            for wid in await client.zrange(f"{prefix}:ils:workers", 0, -1):
                if f":{proc.pid}:" in (wid.decode() if isinstance(wid, bytes) else wid):
                    return
            await asyncio.sleep(0.2)
        raise TimeoutError(f"worker {proc.pid} sent no heartbeat in {timeout_s:.0f}s")

    def start_web(self, port: int) -> subprocess.Popen[bytes]:
        proc = self._spawn("serve", "--no-workers", "--port", str(port), log="web.log")
        self.others.append(proc)
        return proc

    def server_pid(self) -> int | None:
        state = self.server.status()
        return state.pid if state is not None else None

    async def stop(self) -> None:
        if self._system is not None:
            await self._system.close()
        procs = self.workers + self.others
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                await asyncio.to_thread(proc.wait, 30)
            except subprocess.TimeoutExpired:
                proc.kill()
        await asyncio.to_thread(self.server.stop)
        if not os.environ.get("CHAOS_KEEP"):
            shutil.rmtree(self.work, ignore_errors=True)


@contextlib.asynccontextmanager
async def stack(tuning: Tuning) -> AsyncIterator[tuple[Stack, RecordingHandler]]:
    """A prepared stack and the SMTP sink its workers send to; everything stopped after."""
    sink = RecordingHandler()
    with smtp_server(sink) as smtp_port:
        s = Stack(tuning, smtp_port)
        try:
            await asyncio.to_thread(s.prepare)
            yield s, sink
        finally:
            await s.stop()
