"""The server side of the orders bench: one layout of ILS started in a fresh directory, the CPU
time of its processes, and what its ``/metrics`` says about loop lag and queue backlog.

Layouts: ``in-process`` (``ils serve``: the workers in the web process, what ``make run``
runs), ``worker-process`` (``ils serve --no-workers`` beside ``ils worker``: production's shape)
and ``no-workers`` (``ils serve --no-workers`` alone: the baseline, the web stack and the outbox
relay without any job being worked).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import psutil
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parent.parent
LAYOUTS = ("no-workers", "in-process", "worker-process")
STORES = ("valkey", "redis")  # the embedded server: its CPU is counted apart


async def make_token(database_url: str) -> str:
    """A company, a dispenser and an API token for them; the token."""
    from ils.domain.db import Database
    from ils.domain.enums import CompanyKind, Role
    from ils.domain.models.accounts import Company, User
    from ils.domain.passwords import hash_password
    from ils.web.auth.tokens import create_token

    db = Database(database_url)
    try:
        async with db.session() as s:
            company = Company(name="Bench Optics", slug="bench", kind=CompanyKind.practice)
            s.add(company)
            await s.flush()
            user = User(
                company_id=company.id, email="bench@bench.localhost", name="Bench",
                password_hash=hash_password("bench-password"), role=Role.dispenser,
            )  # fmt: skip
            s.add(user)
            await s.flush()
            _, token = await create_token(s, user, "bench")
            return token
    finally:
        await db.dispose()


def _all_cpus() -> None:
    # The bench pins itself to one core; the servers it starts may use every core.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, range(os.cpu_count() or 1))


class Layout:
    """One layout's processes, started by :meth:`start`, stopped by :meth:`stop`."""

    def __init__(self, name: str, port: int) -> None:
        if name not in LAYOUTS:
            raise ValueError(f"unknown layout {name!r}; one of {', '.join(LAYOUTS)}")
        self.name, self.port = name, port
        self.work = Path(tempfile.mkdtemp(prefix="ils-orders-bench-"))
        self.env = {
            k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_", "DATABASE"))
        }
        self.env |= {"ILS_VAR_DIR": str(self.work / "var"), "PYTHONPATH": str(REPO / "src")}
        # One bench user sends more orders than a person could: the order quota (5,000 per user
        # per 10 minutes) would answer 429 and measure the limiter, not the path.
        self.env |= {"ILS_QUOTA_ORDER_USER": "none", "ILS_QUOTA_ORDER_COMPANY": "none"}
        self.procs: list[subprocess.Popen[str]] = []
        self.token = ""

    def _spawn(
        self, *args: str, out: int | None = None, level: str = "WARNING"
    ) -> subprocess.Popen[str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ils", *args, "--log-level", level], env=self.env,
            stdout=out if out is not None else subprocess.DEVNULL, stderr=subprocess.STDOUT,
            text=True, preexec_fn=_all_cpus,
        )  # fmt: skip
        self.procs.append(proc)
        return proc

    def launch(self, args: list[str], ready: str, log: str, level: str = "WARNING") -> None:
        """Start ``ils ARGS`` and wait until it prints a line containing ``ready`` (exit if it
        does not within 90 s); its output goes to the file ``log`` in the layout's directory."""
        proc = self._spawn(*args, out=subprocess.PIPE, level=level)
        seen = threading.Event()

        def drain() -> None:
            # Read the output to the end: a pipe nobody reads fills up, and then every log line
            # the process writes blocks its event loop.
            assert proc.stdout is not None
            with (self.work / log).open("w") as out:
                for line in proc.stdout:
                    out.write(line)
                    if ready in line:
                        seen.set()

        threading.Thread(target=drain, daemon=True).start()
        if not seen.wait(timeout=90):
            self.stop()
            sys.exit(f"`ils {' '.join(args)}` of the {self.name} layout did not start")

    def start(self) -> None:
        ils = [sys.executable, "-m", "ils"]
        subprocess.run([*ils, "db", "upgrade"], env=self.env, check=True, capture_output=True)
        database_url = f"sqlite+aiosqlite:///{self.work / 'var' / 'ils.db'}"
        self.token = asyncio.run(make_token(database_url))
        workers = [] if self.name == "in-process" else ["--no-workers"]
        self.launch(["serve", "--port", str(self.port), *workers], "listening on", "server.log")
        if self.name == "worker-process":
            # On the embedded server the web process started (found through var/redis).
            self._spawn("worker")

    def processes(self) -> Iterator[psutil.Process]:
        """The layout's processes: those it started, their children, and its embedded server
        (which runs detached, found by its working directory under this layout's)."""
        for proc in self.procs:
            with contextlib.suppress(psutil.Error):
                root = psutil.Process(proc.pid)
                yield root
                yield from root.children(recursive=True)
        for p in psutil.process_iter(["name"]):
            if any(s in (p.info["name"] or "") for s in STORES):
                with contextlib.suppress(psutil.Error):
                    if p.cwd().startswith(str(self.work)):
                        yield p

    def cpu_s(self) -> dict[str, float]:
        """CPU seconds so far: ``server`` (Python processes: web, workers, pools), ``store``."""
        out = {"server": 0.0, "store": 0.0}
        seen: set[int] = set()
        for p in self.processes():
            if p.pid in seen:
                continue
            seen.add(p.pid)
            with contextlib.suppress(psutil.Error):
                t = p.cpu_times()
                kind = "store" if any(s in p.name() for s in STORES) else "server"
                out[kind] += t.user + t.system + t.children_user + t.children_system
        return out

    def metrics(self) -> dict[str, float]:
        """Loop lag, lag pause state and queue backlog from the web process's ``/metrics``."""
        url = f"http://127.0.0.1:{self.port}/metrics"
        try:
            with urllib.request.urlopen(url, timeout=10) as response:
                text = response.read().decode()
        except OSError:
            return {}
        out: dict[str, float] = {"backlog": 0.0, "lag_pauses": 0.0}
        for family in text_string_to_metric_families(text):
            for s in family.samples:
                if s.name in ("ils_web_loop_lag_seconds", "ils_workers_lag_paused"):
                    out[s.name] = s.value
                elif s.name == "ils_workers_lag_pauses_total":
                    out["lag_pauses"] = s.value
                elif s.name == "ils_jobs" and s.labels.get("state") in (
                    "waiting", "prioritized", "delayed",
                ):  # fmt: skip
                    out["backlog"] += s.value
        return out

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        shutil.rmtree(self.work, ignore_errors=True)
