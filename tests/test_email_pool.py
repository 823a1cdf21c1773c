"""The SMTP transport's pool of connections against a real aiosmtpd server: concurrent sends run
in SMTP transactions of their own at once, never on more than ``smtp_connections`` connections,
idle connections are reused, and ``close()`` quits every one."""

from __future__ import annotations

import asyncio
from email.message import EmailMessage
from typing import Any

from ils.jobs.email.transports import Message, SmtpTransport, build_mime
from ils.settings import load_mail_settings
from tests.support.smtp import RecordingHandler, Sessions, free_port, smtp_env, smtp_server

# How long a message waits in DATA for another one to arrive before the server answers 451: only
# ever reached when the sends run one after another (the old one-connection transport did).
PATIENCE_S = 10.0


class Rendezvous(RecordingHandler):
    """Holds each message in DATA until ``parties`` messages are in DATA at once (then lets
    every later one through); answers 451 if they never are. Counts the QUITs it receives."""

    def __init__(self, parties: int = 2) -> None:
        super().__init__()
        self.parties = parties
        self.in_data = 0
        self.most_in_data = 0
        self.quits = 0
        self._met: asyncio.Event | None = None  # made on the server's own event loop

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        if self._met is None:
            self._met = asyncio.Event()
        self.in_data += 1
        self.most_in_data = max(self.most_in_data, self.in_data)
        try:
            if self.in_data >= self.parties:
                self._met.set()
            try:
                await asyncio.wait_for(self._met.wait(), PATIENCE_S)
            except TimeoutError:
                return "451 4.3.0 no other message arrived while this one waited"
            return await super().handle_DATA(server, session, envelope)
        finally:
            self.in_data -= 1

    async def handle_QUIT(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.quits += 1
        return "221 Bye"


def a_message(i: int) -> EmailMessage:
    message = Message((f"r{i}@example.com",), f"Mail {i}", "<p>hi</p>", "hi")
    return build_mime(message, "ILS <no-reply@example.com>")


def pool_of(port: int, connections: int | None = None) -> SmtpTransport:
    extra = {} if connections is None else {"ILS_SMTP_CONNECTIONS": str(connections)}
    return SmtpTransport(load_mail_settings(smtp_env(port, **extra)))


async def send_all(transport: SmtpTransport, numbers: range) -> None:
    await asyncio.gather(*(transport.send(a_message(i), f"job-{i}") for i in numbers))


async def test_two_sends_run_in_two_smtp_transactions_at_once():
    handler = Rendezvous(parties=2)
    transport = pool_of(free_port())  # the default pool
    try:
        with smtp_server(handler, transport.settings.port):
            # One connection at a time would hold the first message in DATA until the server
            # gives up on the second (451, a MailTemporaryError here).
            await send_all(transport, range(2))
    finally:
        await transport.close()
    assert sorted(str(m["Subject"]) for m in handler.messages) == ["Mail 0", "Mail 1"]
    assert handler.most_in_data == 2
    assert transport.connections_opened == 2


async def test_never_more_connections_than_the_setting_allows():
    handler, sessions = Rendezvous(parties=2), Sessions()
    transport = pool_of(free_port(), connections=2)
    try:
        with smtp_server(handler, transport.settings.port, sessions=sessions):
            await send_all(transport, range(5))
            assert sessions.open == 2  # both kept for the next sends
    finally:
        await transport.close()
    assert len(handler.messages) == 5
    assert sessions.most == 2 and sessions.total == 2
    assert handler.most_in_data == 2
    assert transport.connections_opened == 2


async def test_idle_connections_are_reused():
    handler, sessions = RecordingHandler(), Sessions()
    transport = pool_of(free_port(), connections=2)
    try:
        with smtp_server(handler, transport.settings.port, sessions=sessions):
            for i in range(5):  # one at a time: the same connection every time
                await transport.send(a_message(i), f"one-{i}")
            assert transport.connections_opened == 1
            for batch in range(4):  # bursts of four: the two connections, again and again
                await send_all(transport, range(10 + 4 * batch, 14 + 4 * batch))
    finally:
        await transport.close()
    assert len(handler.messages) == 21
    assert transport.connections_opened <= 2 and sessions.total <= 2


async def test_close_quits_every_connection():
    handler, sessions = Rendezvous(parties=2), Sessions()
    transport = pool_of(free_port(), connections=2)
    with smtp_server(handler, transport.settings.port, sessions=sessions):
        await send_all(transport, range(2))  # both connections open, both idle now
        await transport.close()
        assert handler.quits == 2
        await transport.close()  # nothing left to quit; closing twice is harmless
        assert handler.quits == 2
    assert transport.connections_opened == 2 and sessions.total == 2
