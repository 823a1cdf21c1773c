"""A real local HTTP receiver of webhooks for the tests: it verifies each request's Standard
Webhooks signature with the ``standardwebhooks`` library against the secrets it is given (each
one alone), answers as scripted (``ok``, ``500``, ``hang`` until released, ``redirect:<url>``),
and processes each ``webhook-id`` once, as a receiver should (replays and retries are dropped).
It listens on a socket bound before the server starts, so a client may connect at once."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request, Response
from standardwebhooks import Webhook, WebhookVerificationError


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    verified_by: list[str]  # the secrets that verify it, each on its own


@dataclass
class Receiver:
    script: list[str]
    secrets: list[str] = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    processed: list[str] = field(default_factory=list)  # webhook-ids, each once
    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    arrived: asyncio.Condition = field(default_factory=asyncio.Condition)

    def next_answer(self) -> str:
        return self.script[min(len(self.requests) - 1, len(self.script) - 1)]

    async def wait_requests(self, count: int, timeout_s: float = 15) -> list[Received]:
        async with asyncio.timeout(timeout_s), self.arrived:
            await self.arrived.wait_for(lambda: len(self.requests) >= count)
        return self.requests

    def verify(self, body: bytes, headers: dict[str, str]) -> list[str]:
        ok = []
        for secret in self.secrets:
            with contextlib.suppress(WebhookVerificationError):
                Webhook(secret).verify(body, headers)
                ok.append(secret)
        return ok


def _app(receiver: Receiver) -> FastAPI:
    app = FastAPI()

    @app.post("/hook")
    async def hook(request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        got = Received(headers, body, receiver.verify(body, headers))
        async with receiver.arrived:
            receiver.requests.append(got)
            receiver.arrived.notify_all()
        answer = receiver.next_answer()
        if answer == "500":
            return Response("receiver broke", status_code=500)
        if answer == "hang":
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(receiver.release.wait(), 30)
            return Response(status_code=200)
        if answer.startswith("redirect:"):
            return Response(status_code=302, headers={"location": answer.split(":", 1)[1]})
        if got.verified_by and headers["webhook-id"] not in receiver.processed:
            receiver.processed.append(headers["webhook-id"])
        return Response("thanks" if got.verified_by else "bad signature",
                        status_code=200 if got.verified_by else 401)  # fmt: skip

    return app


@contextlib.asynccontextmanager
async def webhook_receiver(*script: str, secrets: list[str] | None = None) -> AsyncIterator[Any]:
    """Serve the receiver on 127.0.0.1 for the block; ``.url`` is its ``/hook`` URL."""
    receiver = Receiver(list(script) or ["ok"], list(secrets or []))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    receiver.url = f"http://127.0.0.1:{sock.getsockname()[1]}/hook"
    server = uvicorn.Server(uvicorn.Config(_app(receiver), log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield receiver
    finally:
        receiver.release.set()
        server.should_exit = True
        await task
        sock.close()
