"""A real SMTP server for the tests: aiosmtpd on a free port of 127.0.0.1, recording what it
accepts, and answering 451 once or 550 always for the recipients a test names; optionally
counting the connections it has open (:class:`Sessions`)."""

from __future__ import annotations

import contextlib
import socket
from collections import Counter
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

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


class Sessions:
    """The client sessions a server has: open now, the most open at once, opened in all. A
    session counts from its first EHLO (aiosmtplib's first command) until its connection is
    lost, so the probe connection aiosmtpd's controller makes at start-up is not one. Counted on
    the server's thread, read by the test once its sends are done."""

    def __init__(self) -> None:
        self.open = 0
        self.most = 0
        self.total = 0


class _CountingController(Controller):
    def __init__(self, handler: Any, sessions: Sessions, **options: Any) -> None:
        super().__init__(handler, **options)
        self.sessions = sessions

    def factory(self) -> SMTP:
        sessions = self.sessions

        class Counting(SMTP):
            counted = False

            async def smtp_EHLO(self, hostname: str) -> None:  # noqa: N802 - aiosmtpd's name
                if not self.counted:  # not again after STARTTLS
                    self.counted = True
                    sessions.open += 1
                    sessions.total += 1
                    sessions.most = max(sessions.most, sessions.open)
                await super().smtp_EHLO(hostname)

            def connection_lost(self, error: Exception | None) -> None:
                if self.counted:
                    sessions.open -= 1
                super().connection_lost(error)

        return Counting(self.handler, **self.SMTP_kwargs)


@contextlib.contextmanager
def smtp_server(
    handler: Any, port: int | None = None, sessions: Sessions | None = None, **server_options: Any
) -> Iterator[int]:
    """Serve ``handler`` for the block on ``port`` (default: a free one); yields the port.
    ``sessions``, when given, counts the connections. ``server_options`` go to aiosmtpd (TLS
    contexts, ``require_starttls``, an authenticator)."""
    port = port or free_port()
    if sessions is None:
        controller = Controller(handler, hostname="127.0.0.1", port=port, **server_options)
    else:
        controller = _CountingController(
            handler, sessions, hostname="127.0.0.1", port=port, **server_options
        )
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
