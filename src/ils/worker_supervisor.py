"""``ils worker --processes N``: N worker processes on one machine, under one supervisor.

Each child is a normal worker (:func:`ils.cli_worker.work`: the same queues, the same settings,
its own worker id in the heartbeats). The settings reach it serialized (JSON, secrets included,
parent to child only) as the argument of a spawned process: nothing goes through the environment,
the command line or a file. The supervisor runs no event loop and imports no job code: it waits
on the children's sentinels and a wake-up pipe its signal handlers write to.

A child that dies (crash, kill -9, out of memory) is started again after a backoff that doubles
with each death in a row, up to a cap, and starts from the first step again once a child ran
healthy for a while; every death is logged with its exit code or signal, and a child that keeps
dying is logged as such at ERROR. SIGTERM or SIGINT drains: SIGTERM is forwarded to every child,
which finishes its active jobs within the grace period; a child still there after the grace
period and a margin is killed; the supervisor exits 0. A child whose supervisor dies (kill -9)
stops the same way on its own, as the pool processes of :mod:`ils.queue.pool` do.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from types import FrameType

from ils.queue.pool import when_parent_exits
from ils.settings import IlsSettings

log = logging.getLogger("ils.supervisor")

#: Seconds a child gets beyond the grace period (its jobs') to close its connections and exit
#: before the supervisor kills it.
STOP_MARGIN_S = 15.0
#: Deaths in a row (each soon after its start) from which a child "keeps dying".
KEEPS_DYING = 3


@dataclass(frozen=True)
class RestartPolicy:
    """How long a dead child waits before it starts again: ``first_s`` after one death,
    doubling with each further death in a row, never more than ``cap_s``; a child that ran
    ``healthy_s`` or longer before dying starts the count again."""

    first_s: float = 0.5
    cap_s: float = 30.0
    healthy_s: float = 60.0

    def delay_s(self, deaths_in_a_row: int) -> float:
        if deaths_in_a_row < 1:
            return 0.0
        # The exponent is bounded so that a long streak cannot overflow the float.
        return min(self.cap_s, self.first_s * 2.0 ** min(deaths_in_a_row - 1, 64))

    def deaths_after(self, deaths_in_a_row: int, ran_s: float) -> int:
        """The streak once a child that ran ``ran_s`` seconds has died."""
        return 1 if ran_s >= self.healthy_s else deaths_in_a_row + 1


def how_it_ended(exitcode: int | None) -> str:
    """``exit code 1``, ``killed by SIGKILL``: a child's end as a log line says it."""
    if exitcode is None:
        return "still running"
    if exitcode < 0:
        try:
            return f"killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"killed by signal {-exitcode}"
    return f"exit code {exitcode}"


@dataclass(frozen=True)
class WorkerHandoff:
    """What a worker process gets from its supervisor: the settings as JSON, the queues as
    given on the command line, and which of how many processes it is."""

    settings_json: str
    queues: str | None
    index: int
    processes: int

    def settings(self) -> IlsSettings:
        return IlsSettings.model_validate_json(self.settings_json)


def worker_process(handoff: WorkerHandoff) -> None:
    """The body of one spawned worker process; exits with the worker's exit code."""
    # Before anything slow: a supervisor killed during this process's start is noticed too.
    when_parent_exits(lambda: os.kill(os.getpid(), signal.SIGTERM))
    gc.disable()  # as ils.cli_worker.main does, until the workers run
    from ils.cli_base import configure_logging
    from ils.cli_worker import work

    settings = handoff.settings()
    configure_logging(settings)
    label = f"process {handoff.index}/{handoff.processes}"
    try:
        code = work(settings, handoff.queues, label)
    finally:
        gc.enable()
    sys.exit(code)


@dataclass
class Slot:
    """One of the N places a worker process runs in, and its record of deaths."""

    index: int
    process: BaseProcess | None = None
    started: float = 0.0
    deaths_in_a_row: int = 0
    restart_at: float | None = None


class Supervisor:
    """Runs ``processes`` worker processes until SIGTERM/SIGINT; :meth:`run` is the exit code."""

    def __init__(
        self,
        settings: IlsSettings,
        queues: str | None,
        processes: int,
        policy: RestartPolicy | None = None,
    ) -> None:
        self.settings = settings
        self.queues = queues
        self.policy = policy or RestartPolicy()
        self.slots = [Slot(i) for i in range(1, processes + 1)]
        self._context = multiprocessing.get_context("spawn")
        self._stopping: str | bool = False  # the name of the signal that asked to stop
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_w, False)

    # -- signals ----------------------------------------------------------------------------

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        # Only a flag and a byte here: the loop, woken by the byte, does the rest (and logs).
        self._stopping = self._stopping or signal.Signals(signum).name
        with contextlib.suppress(BlockingIOError):
            os.write(self._wake_w, b"x")

    def _install_signal_handlers(self) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, self._on_signal)

    # -- children ---------------------------------------------------------------------------

    def _start(self, slot: Slot) -> None:
        handoff = WorkerHandoff(
            self.settings.model_dump_json(), self.queues, slot.index, len(self.slots)
        )
        process = self._context.Process(
            target=worker_process, args=(handoff,), name=f"ils-worker-{slot.index}"
        )
        process.start()
        slot.process, slot.started, slot.restart_at = process, time.monotonic(), None
        log.info("worker process %d/%d started (pid %d)", slot.index, len(self.slots), process.pid)

    def _ended(self, slot: Slot) -> None:
        """``slot``'s process has died without being asked: log it, schedule its restart."""
        process = slot.process
        assert process is not None
        process.join()
        pid, ended = process.pid, how_it_ended(process.exitcode)
        process.close()  # its pipe and sentinel now, not whenever it is collected
        ran_s = time.monotonic() - slot.started
        slot.deaths_in_a_row = self.policy.deaths_after(slot.deaths_in_a_row, ran_s)
        delay = self.policy.delay_s(slot.deaths_in_a_row)
        slot.process, slot.restart_at = None, time.monotonic() + delay
        if slot.deaths_in_a_row >= KEEPS_DYING:
            log.error(
                "worker process %d (pid %s) keeps dying: %d times in a row, each within %.0f s "
                "of its start (last: %s); starting it again in %.1f s",
                slot.index, pid, slot.deaths_in_a_row, self.policy.healthy_s, ended, delay,
            )  # fmt: skip
        else:
            log.warning(
                "worker process %d (pid %s) died after %.1f s (%s); starting it again in %.1f s",
                slot.index, pid, ran_s, ended, delay,
            )  # fmt: skip

    # -- the loop ---------------------------------------------------------------------------

    def run(self) -> int:
        self._install_signal_handlers()
        try:
            for slot in self.slots:
                if not self._stopping:
                    self._start(slot)
            while not self._stopping:
                self._step()
            log.info("%s received: stopping the worker processes", self._stopping)
            self._drain()
        finally:
            os.close(self._wake_r)
            os.close(self._wake_w)
        return 0

    def _step(self) -> None:
        """Wait for a child to die, a restart to come due or a signal; act on what happened."""
        due = [s.restart_at for s in self.slots if s.restart_at is not None]
        timeout = max(0.0, min(due) - time.monotonic()) if due else None
        sentinels = {s.process.sentinel: s for s in self.slots if s.process is not None}
        ready = wait([*sentinels, self._wake_r], timeout)
        if self._wake_r in ready:
            os.read(self._wake_r, 64)
        for sentinel, slot in sentinels.items():
            if sentinel in ready and not self._stopping:
                self._ended(slot)
        now = time.monotonic()
        for slot in self.slots:
            if slot.restart_at is not None and slot.restart_at <= now and not self._stopping:
                self._start(slot)

    def _drain(self) -> None:
        """Forward SIGTERM, wait for the children's graceful shutdown, kill the late ones."""
        alive = {s.index: s.process for s in self.slots if s.process is not None}
        for process in alive.values():
            with contextlib.suppress(ProcessLookupError):
                process.terminate()  # SIGTERM: the child's runtime drains its jobs
        limit_s = self.settings.shutdown_grace_s + STOP_MARGIN_S
        deadline = time.monotonic() + limit_s
        pending = [p for p in alive.values() if p.exitcode is None]
        while pending and (left := deadline - time.monotonic()) > 0:
            wait([p.sentinel for p in pending], left)
            pending = [p for p in pending if p.exitcode is None]
        for index, process in alive.items():
            if process.exitcode is None:
                log.warning(
                    "worker process %d (pid %s) still running %.0f s after SIGTERM: killed",
                    index, process.pid, limit_s,
                )  # fmt: skip
                process.kill()
            process.join()
            log.info("worker process %d (pid %s) stopped (%s)", index, process.pid,
                     how_it_ended(process.exitcode))  # fmt: skip
        for slot in self.slots:
            slot.process, slot.restart_at = None, None
        log.info("all worker processes stopped")


def supervise(settings: IlsSettings, queues: str | None, processes: int) -> int:
    """Run ``processes`` worker processes of ``queues`` until SIGTERM/SIGINT; the exit code.

    With the embedded server (no ``REDIS_URL``), the supervisor is one of its users for as long
    as it runs, so the server outlives any one child's death; each child uses it as every ``ils``
    process does (and starts it again should it die).
    """
    embedded = None
    if settings.redis_url is None:
        from ils.queue.embedded import EmbeddedServer

        embedded = EmbeddedServer(settings.redis_dir, settings.embedded_port)
        embedded.ensure()
    try:
        return Supervisor(settings, queues, processes).run()
    finally:
        if embedded is not None:
            embedded.release()
