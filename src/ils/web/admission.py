"""Admission control of the web process: past its capacity a request is refused at once (503 with
``Retry-After``) instead of waiting behind every other one without bound.

At most ``max_inflight`` HTTP requests run at once in the process. A request that finds every
slot taken waits for one at most ``queue_timeout_s``; then it answers 503 without being read.
Requests past capacity otherwise queue inside the process (on its database connection, whose
transactions then all grow longer) and latency grows for as long as the overload lasts: issue 14
measured 33 s. With this bound an admitted request waits at most the timeout plus the in-flight
requests ahead of it, and the excess is told to come back, visible in ``/metrics`` as
``ils_web_requests_shed_total``. WebSockets, the server-sent event stream and the probes
(``/healthz``, ``/readyz``, ``/metrics``) are never held back: streams would keep a slot for
their whole life, and the probes must answer most when the process is busy.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Receive, Scope, Send

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics", "/api/queue/events"})
BUSY_BODY = json.dumps(
    {"detail": "the server is at capacity: try again shortly", "reason": "overloaded"}
).encode()


class Gate:
    """The process's request slots and what they did: ``inflight`` now, ``shed`` so far."""

    def __init__(
        self,
        max_inflight: int | None,
        queue_timeout_s: float,
        on_wait: Callable[[float], None] | None = None,
    ) -> None:
        self.max_inflight = max_inflight
        self.queue_timeout_s = queue_timeout_s
        # Told how long each request that found no free slot waited (the timeout if shed): the
        # web process's in-process workers back off on it as on loop lag.
        self.on_wait = on_wait
        # Created on first use, inside the serving loop.
        self._slots: asyncio.Semaphore | None = None
        self.inflight = 0
        self.shed = 0

    async def enter(self) -> bool:
        """Take a slot, waiting at most the timeout; False (counted as shed) when none came."""
        if self._slots is None:
            self._slots = asyncio.Semaphore(self.max_inflight or 1)
        if self._slots.locked():
            started = time.perf_counter()
            try:
                await asyncio.wait_for(self._slots.acquire(), self.queue_timeout_s)
            except TimeoutError:
                self.shed += 1
                return False
            finally:
                if self.on_wait is not None:
                    self.on_wait(time.perf_counter() - started)
        else:
            await self._slots.acquire()
        self.inflight += 1
        return True

    def leave(self) -> None:
        assert self._slots is not None
        self.inflight -= 1
        self._slots.release()


class Admission:
    """ASGI middleware: every HTTP request but the exempt ones passes the :class:`Gate`."""

    def __init__(self, app: ASGIApp, gate: Gate, exempt: frozenset[str] = EXEMPT_PATHS) -> None:
        self.app = app
        self.gate = gate
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        gate = self.gate
        if gate.max_inflight is None or scope["type"] != "http" or scope["path"] in self.exempt:
            await self.app(scope, receive, send)
            return
        if not await gate.enter():
            await self._refuse(send)
            return
        try:
            await self.app(scope, receive, send)
        finally:
            gate.leave()

    async def _refuse(self, send: Send) -> None:
        # Retry-After 1: the overload is judged per request, a second later may find a slot.
        await send({
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BUSY_BODY)).encode()),
                (b"retry-after", b"1"),
            ],
        })  # fmt: skip
        await send({"type": "http.response.body", "body": BUSY_BODY})
