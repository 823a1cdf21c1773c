"""The app's "stopping" flag, for long-lived responses (the dashboard's event stream).

A server stops accepting work on SIGINT/SIGTERM but then waits for open responses to end before
it runs the app's shutdown; a stream that never ends would hold it up. So the flag is raised by
the signal itself (chained before the server's own handler) as well as by the lifespan's end.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import threading
from types import FrameType
from typing import Any

HANDLED = (signal.SIGINT, signal.SIGTERM)


class ShutdownFlag:
    """Raised once when the app is stopping; streams poll it or wait on it."""

    def __init__(self) -> None:
        self._raised = False
        self._event: asyncio.Event | None = None
        self._previous: dict[int, Any] = {}

    @property
    def raised(self) -> bool:
        return self._raised

    def raise_flag(self) -> None:
        self._raised = True
        if self._event is not None:
            self._event.set()

    async def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s`` for the flag; whether it is raised."""
        if self._event is None:
            self._event = asyncio.Event()
            if self._raised:
                self._event.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), timeout_s)
        return self._raised

    def chain_signals(self) -> None:
        """Raise the flag on SIGINT/SIGTERM, then run the handler that was there (the server's).

        Only a Python-level handler is chained: signals can be handled only in the main thread,
        and where the default action applies the process ends anyway.
        """
        if threading.current_thread() is not threading.main_thread():
            return
        for sig in HANDLED:
            previous = signal.getsignal(sig)
            if not callable(previous):
                continue
            self._previous[sig] = previous
            signal.signal(sig, self._handle)

    def restore_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for sig, previous in self._previous.items():
            if signal.getsignal(sig) == self._handle:
                signal.signal(sig, previous)
        self._previous.clear()

    def _handle(self, sig: int, frame: FrameType | None) -> None:
        self.raise_flag()
        previous = self._previous.get(sig)
        if callable(previous):
            previous(sig, frame)
