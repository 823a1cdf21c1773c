"""A real SMTP server for the tests: aiosmtpd on a free port of 127.0.0.1, recording what it
accepts, and answering 451 once or 550 always for the recipients a test names."""

from __future__ import annotations

import contextlib
import socket
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

PUBLIC_URL = "https://ils.example.com"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RecordingHandler:
    """Accepts every email, except: a recipient in ``busy`` gets ``451`` the first time it is
    offered, one in ``unknown`` gets ``550`` every time."""

    def __init__(self, busy: tuple[str, ...] = (), unknown: tuple[str, ...] = ()) -> None:
        self.messages: list[EmailMessage] = []
        self.envelopes: list[tuple[str, list[str]]] = []
        self.busy = set(busy)
        self.unknown = set(unknown)
        self.offered: Counter[str] = Counter()

    async def handle_RCPT(  # noqa: N802 - aiosmtpd's hook name
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any
    ) -> str:
        self.offered[address] += 1
        if address in self.unknown:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if address in self.busy:
            self.busy.discard(address)
            return "451 4.7.1 Greylisted, please try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        parsed = message_from_bytes(envelope.original_content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        self.envelopes.append((envelope.mail_from, list(envelope.rcpt_tos)))
        return "250 2.0.0 Ok: queued"


@contextlib.contextmanager
def smtp_server(
    handler: RecordingHandler, port: int | None = None, **server_options: Any
) -> Iterator[int]:
    """Serve ``handler`` for the block on ``port`` (default: a free one); yields the port.
    ``server_options`` go to aiosmtpd (TLS contexts, ``require_starttls``, an authenticator)."""
    port = port or free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, **server_options)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def smtp_env(port: int, **extra: str) -> dict[str, str]:
    """Mail settings (as the environment gives them) for the plain-SMTP server on ``port``."""
    return {"ILS_MAIL_TRANSPORT": "smtp", "ILS_SMTP_HOST": "127.0.0.1", "ILS_SMTP_PORT": str(port),
            "ILS_SMTP_TLS": "none", "ILS_MAIL_FROM": "ILS <no-reply@example.com>",
            "ILS_PUBLIC_URL": PUBLIC_URL, **extra}  # fmt: skip
