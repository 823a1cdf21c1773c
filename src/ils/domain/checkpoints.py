"""Background WAL checkpoints for a SQLite database.

SQLite copies its write-ahead log back into the database file (a checkpoint) every 1,000 pages,
inside whichever commit crosses the line, with an fsync: the request behind that commit, and
every request queued on the process's one connection, waited for it (measured: p99 of
``POST /api/orders`` 125 ms with, 40 ms without, bench/README.md). While a long-running process
(``ils serve``, ``ils worker``) runs, its connections leave checkpoints to this task, which runs
them from a connection of its own in a thread, where they hold up nobody; other processes (the
one-shot commands) keep SQLite's automatic checkpoints.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import threading
from pathlib import Path

from ils.queue.background import BackgroundTask

log = logging.getLogger(__name__)

INTERVAL_S = 1.0


class Checkpointer:
    """Checkpoints one SQLite file every ``interval_s`` while running."""

    def __init__(self, path: Path, interval_s: float = INTERVAL_S) -> None:
        self.path = path
        self.interval_s = interval_s
        self._task = BackgroundTask("ils-sqlite-checkpoints", self._run)
        self._conn: sqlite3.Connection | None = None
        # Cancelling the task does not stop a checkpoint already running in its thread: every
        # use of the connection, closing included, holds this lock (two threads in one
        # sqlite3 connection, or a close under a running statement, crash the process).
        self._lock = threading.Lock()

    @property
    def running(self) -> bool:
        return self._task.running

    def checkpoint(self, mode: str = "PASSIVE") -> tuple[int, int, int]:
        """One checkpoint now (blocking; call it from a thread): SQLite's (busy, frames in the
        log, frames copied back)."""
        if mode not in ("PASSIVE", "FULL", "RESTART", "TRUNCATE"):
            raise ValueError(f"unknown checkpoint mode {mode!r}")
        with self._lock:
            if self._conn is None:
                self._conn = sqlite3.connect(self.path, timeout=5, check_same_thread=False)
                self._conn.execute("PRAGMA synchronous=NORMAL")
            row = self._conn.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
        busy, frames, copied = row
        return int(busy), int(frames), int(copied)

    def _final_checkpoint_and_close(self) -> None:
        with self._lock:
            if self._conn is None:
                return
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
            self._conn.close()
            self._conn = None

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await asyncio.to_thread(self.checkpoint)
            except sqlite3.Error as exc:  # a busy or vanished file: try again next time
                log.warning("WAL checkpoint of %s failed: %s", self.path, exc)

    def start(self) -> None:
        self._task.start()

    async def stop(self) -> None:
        """Stop the task, then checkpoint what is left so the log does not outgrow the file."""
        await self._task.stop()
        # In a thread: it may wait for the lock while a cancelled checkpoint finishes.
        await asyncio.to_thread(self._final_checkpoint_and_close)
