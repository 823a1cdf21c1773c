"""A real local HTTP server speaking the chat-completions API, for the HTTP provider's tests: it
answers each ``POST /v1/chat/completions`` with the next scripted reply and records every request
(headers and JSON body). It listens on a socket bound before the server starts, so a client may
connect at once without waiting."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


@dataclass
class Scripted:
    """The replies to give, in order (the last one repeats), and the requests received."""

    replies: list[tuple[int, dict[str, Any]]]
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def next_reply(self) -> tuple[int, dict[str, Any]]:
        index = min(len(self.requests) - 1, len(self.replies) - 1)
        return self.replies[index]


def tool_call(name: str, arguments: str, call_id: str = "call_1") -> dict[str, Any]:
    """A completion whose message asks for one tool call."""
    return {"id": "cmpl-1", "object": "chat.completion", "choices": [{
        "index": 0, "finish_reason": "tool_calls",
        "message": {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": name, "arguments": arguments}},
        ]},
    }]}  # fmt: skip


def final(text: str) -> dict[str, Any]:
    """A completion with the model's final answer."""
    return {"id": "cmpl-2", "object": "chat.completion", "choices": [{
        "index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text},
    }]}  # fmt: skip


def _app(script: Scripted) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/chat/completions")
    async def complete(request: Request) -> JSONResponse:
        script.requests.append({"headers": dict(request.headers), "json": await request.json()})
        status, body = script.next_reply()
        return JSONResponse(body, status_code=status)

    return app


@contextlib.asynccontextmanager
async def chat_server(*replies: tuple[int, dict[str, Any]]) -> AsyncIterator[Scripted]:
    """Serve ``replies`` on 127.0.0.1 for the length of the block; ``.url`` is the base URL."""
    script = Scripted(list(replies))
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    script.url = f"http://127.0.0.1:{sock.getsockname()[1]}/v1"
    config = uvicorn.Config(_app(script), log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield script
    finally:
        server.should_exit = True
        await task
        sock.close()
