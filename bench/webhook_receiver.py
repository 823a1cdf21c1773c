"""The webhook benches' receiver, in a process of its own so that it does not share the bench
process's CPU (whose pacing and database writes it would otherwise slow, and be slowed by).

    python bench/webhook_receiver.py

Serves ``POST /hook`` on a free port of 127.0.0.1 (uvicorn), answers 204, and prints one line per
request: ``<webhook-id> <time.monotonic()>`` (the system-wide monotonic clock, comparable across
the processes of one machine). Its first line is ``listening <url>``. Ends on SIGTERM.
"""

from __future__ import annotations

import socket
import sys
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def hook(request: Request) -> Response:
    await request.body()
    sys.stdout.write(f"{request.headers['webhook-id']} {time.monotonic()}\n")
    return Response(status_code=204)


def main() -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    app = Starlette(routes=[Route("/hook", hook, methods=["POST"])])
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    print(f"listening http://127.0.0.1:{sock.getsockname()[1]}/hook")
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    server.run(sockets=[sock])


if __name__ == "__main__":
    main()
