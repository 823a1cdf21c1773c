"""Supervision of the embedded server from every process that uses it: when the server dies
(killed, crashed), the first process to notice starts it again, with back-off, on the same port
and password, so every client's URL stays valid; its append-only file brings the data back.

Before this, a killed embedded server stayed down and the workers waited for it for ever (issue
16, defect 3). The server's lock file serialises restarts: the processes that notice later find
it running and reuse it. A server stopped on purpose (``ils embedded stop``) is recorded as
stopped in its state file, and is left stopped.
"""

from __future__ import annotations

import asyncio
import logging

from ils.queue.embedded import EmbeddedServer

log = logging.getLogger("ils.queue.embedded")

#: How often a process looks whether the server's process is alive (a local check, no I/O
#: beyond reading its state file and the process table).
CHECK_INTERVAL_S = 1.0
#: The longest wait between two restart attempts that failed.
MAX_BACKOFF_S = 30.0


class EmbeddedWatch:
    """Restarts ``server`` when it dies, for clients that connect to ``url``."""

    def __init__(self, server: EmbeddedServer, url: str) -> None:
        self.server = server
        self.url = url
        self.restarts = 0
        self._failures = 0
        #: Set each time this process restarted the server (tests wait on it).
        self.restarted = asyncio.Event()

    def _backoff_s(self) -> float:
        if not self._failures:
            return CHECK_INTERVAL_S
        return float(min(CHECK_INTERVAL_S * 2**self._failures, MAX_BACKOFF_S))

    async def check(self) -> bool:
        """Restart the server if it died; True when this call restarted it."""
        if not await asyncio.to_thread(self.server.crashed):
            self._failures = 0
            return False
        log.error("the embedded server is down; restarting it")
        try:
            url = await asyncio.to_thread(self.server.ensure)
        except Exception as exc:
            self._failures += 1
            log.error(
                "could not restart the embedded server (%s); next try in %.0fs",
                exc, self._backoff_s(),
            )  # fmt: skip
            return False
        self._failures = 0
        if url != self.url:
            log.critical(
                "the embedded server came back on another port (its own was taken): this "
                "process's clients cannot reach it; restart the process"
            )
        self.restarts += 1
        self.restarted.set()
        log.info("embedded server restarted with its data")
        return True

    async def run(self) -> None:
        """Watch until cancelled."""
        while True:
            await self.check()
            await asyncio.sleep(self._backoff_s())
