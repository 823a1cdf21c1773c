"""The mail settings and the SMTP transport on their own: start-up validation with suggestions,
defaults, the reused connection reopened after a drop, and how failures are classified. (The
pool of connections: test_email_pool.py.)"""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from ils.errors import ConfigurationError, GiveUp
from ils.jobs.email.transports import MailTemporaryError, Message, SmtpTransport, build_mime
from ils.settings import load_mail_settings
from tests.support.smtp import PUBLIC_URL, RecordingHandler, free_port, smtp_env, smtp_server


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ILS_MAIL_TRANSPORT": "sendmail"}, "ILS_MAIL_TRANSPORT"),
        ({"ILS_MAIL_TRANSPORT": "smtp"}, "needs ILS_SMTP_HOST"),
        ({"ILS_SMTP_TLS": "ssl"}, "ILS_SMTP_TLS"),
        ({"ILS_SMTP_PROT": "25"}, "did you mean ILS_SMTP_PORT?"),
        ({"ILS_SMTP_PORT": "99999"}, "ILS_SMTP_PORT"),
        ({"ILS_MAIL_FROM": "nobody"}, "ILS_MAIL_FROM"),
        ({"ILS_SMTP_USER": "u"}, "go together"),
        ({"ILS_PUBLIC_URL": "ftp://x"}, "ILS_PUBLIC_URL"),
        ({"ILS_SMTP_CONNECTIONS": "0"}, r"ILS_SMTP_CONNECTIONS: .*greater than or equal to 1"),
        ({"ILS_SMTP_CONNECTIONS": "51"}, r"ILS_SMTP_CONNECTIONS: .*less than or equal to 50"),
    ],
)
def test_a_wrong_mail_setting_fails_at_start_up(env: dict[str, str], message: str):
    with pytest.raises(ConfigurationError, match=message):
        load_mail_settings(env)


def test_mail_settings_defaults_and_smtp_ports():
    default = load_mail_settings({}, Path("var"))
    assert default.transport == "file" and default.mail_dir == Path("var/mail")
    implicit = load_mail_settings({**smtp_env(1), "ILS_SMTP_PORT": "", "ILS_SMTP_TLS": "implicit"})
    assert implicit.port == 465 and implicit.public_url == PUBLIC_URL
    assert default.smtp_connections == 5  # the email queue's default concurrency


def smtp_transport(port: int) -> SmtpTransport:
    return SmtpTransport(load_mail_settings(smtp_env(port)))


def a_message(to: str = "a@example.com") -> EmailMessage:
    return build_mime(Message((to,), "Hi", "<p>hi</p>", "hi"), "ILS <no-reply@example.com>")


async def test_the_smtp_connection_is_reopened_after_the_server_dropped_it():
    handler = RecordingHandler()
    transport = smtp_transport(free_port())
    port = transport.settings.port
    try:
        with smtp_server(handler, port):
            await transport.send(a_message(), "one")
        with smtp_server(handler, port):  # a restarted server: the old connection is dead
            await transport.send(a_message(), "two")
            await transport.send(a_message(), "three")
    finally:
        await transport.close()
    assert len(handler.messages) == 3
    assert transport.connections_opened == 2


async def test_an_unreachable_server_is_a_temporary_error_and_a_5xx_a_permanent_one():
    transport = smtp_transport(free_port())  # nothing listens there
    with pytest.raises(MailTemporaryError, match="SMTPConnect"):
        await transport.send(a_message(), "k")
    handler = RecordingHandler(busy=("busy@example.com",), unknown=("gone@example.com",))
    transport = smtp_transport(free_port())
    try:
        with smtp_server(handler, transport.settings.port):
            with pytest.raises(MailTemporaryError, match="451"):
                await transport.send(a_message("busy@example.com"), "k")
            with pytest.raises(GiveUp, match=r"550 5\.1\.1 <gone@example\.com>"):
                await transport.send(a_message("gone@example.com"), "k")
            await transport.send(a_message("busy@example.com"), "k")
    finally:
        await transport.close()
    assert len(handler.messages) == 1 and transport.connections_opened == 1


async def test_an_email_refused_for_some_recipients_only_is_sent_to_the_others(
    caplog: pytest.LogCaptureFixture,
):
    handler = RecordingHandler(unknown=("gone@example.com",))
    transport = smtp_transport(free_port())
    mime = build_mime(
        Message(("gone@example.com", "here@example.com"), "Hi", "<p>hi</p>", "hi"),
        "ILS <no-reply@example.com>",
    )
    try:
        with smtp_server(handler, transport.settings.port):
            await transport.send(mime, "job-1")
    finally:
        await transport.close()
    assert handler.envelopes == [("no-reply@example.com", ["here@example.com"])]
    assert "email job-1 refused for 1 of its recipients (550)" in caplog.text
    assert "gone@example.com" not in caplog.text
