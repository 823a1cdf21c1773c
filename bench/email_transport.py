"""Emails per second to a local SMTP sink: one reused connection (our ``smtp`` transport with a
pool of one; ``email_pool.py`` compares pool sizes) against a new connection per email, in the
same run, with no rate limit.

Run: ``.venv/bin/python bench/email_transport.py [--emails N] [--concurrency C] [--repeats R]``.
The sink is an aiosmtpd server on 127.0.0.1 that accepts everything and keeps nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import statistics
import sys
import time
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import aiosmtplib
from aiosmtpd.controller import Controller

from ils.jobs.email.transports import Message, SmtpTransport, build_mime
from ils.settings import load_mail_settings

RESULTS = Path(__file__).resolve().parent / "results" / "email_transport.json"


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.count += 1
        return "250 OK"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def message(i: int) -> EmailMessage:
    html = "<p>" + "Your order is confirmed. " * 40 + "</p>"
    text = "Your order is confirmed. " * 40
    return build_mime(Message((f"r{i}@example.com",), f"Order {i}", html, text), "b@example.com")


async def drain(send: Any, emails: int, concurrency: int) -> float:
    """Seconds to send ``emails`` emails with ``concurrency`` senders (as a worker's jobs)."""
    queue: asyncio.Queue[EmailMessage] = asyncio.Queue()
    for i in range(emails):
        queue.put_nowait(message(i))

    async def sender() -> None:
        while not queue.empty():
            await send(queue.get_nowait())

    start = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return time.perf_counter() - start


async def trial(port: int, side: str, emails: int, concurrency: int) -> float:
    if side == "reused":
        env = {"ILS_MAIL_TRANSPORT": "smtp", "ILS_SMTP_HOST": "127.0.0.1",
               "ILS_SMTP_PORT": str(port), "ILS_SMTP_TLS": "none",
               "ILS_SMTP_CONNECTIONS": "1"}  # fmt: skip
        transport = SmtpTransport(load_mail_settings(env))
        try:
            seconds = await drain(lambda m: transport.send(m, "bench"), emails, concurrency)
        finally:
            await transport.close()
    else:

        async def fresh(m: EmailMessage) -> None:
            await aiosmtplib.send(m, hostname="127.0.0.1", port=port, start_tls=False)

        seconds = await drain(fresh, emails, concurrency)
    return emails / seconds


async def main(emails: int, concurrency: int, repeats: int) -> dict[str, Any]:
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    samples: dict[str, list[float]] = {"reused": [], "new": []}
    try:
        await trial(port, "reused", 50, concurrency)  # warm-up
        for r in range(repeats):
            order = ("reused", "new") if r % 2 == 0 else ("new", "reused")
            for side in order:
                samples[side].append(await trial(port, side, emails, concurrency))
                print(f"repeat {r + 1} {side}: {samples[side][-1]:.0f}/s", file=sys.stderr)
    finally:
        controller.stop()
    medians = {side: statistics.median(values) for side, values in samples.items()}
    return {"emails": emails, "concurrency": concurrency, "samples": samples, "median": medians}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    result = asyncio.run(main(args.emails, args.concurrency, args.repeats))
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    m = result["median"]
    print("| transport | emails/s (median) |\n|---|---|")
    print(f"| one reused connection | {m['reused']:.0f} |")
    print(f"| new connection per email | {m['new']:.0f} |")
    print(f"reused / new: {m['reused'] / m['new']:.2f}x")
