"""The SMTP transport over TLS against a real aiosmtpd server with a certificate of a private CA
(made by trustme): STARTTLS with login, implicit TLS, and a server whose certificate the client
does not trust, which is a delivery failure and never a silent plain-text fallback."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from ils.errors import ConfigurationError
from ils.jobs.email.transports import MailTemporaryError, Message, SmtpTransport, build_mime
from ils.settings import load_mail_settings
from tests.support.smtp import RecordingHandler, free_port, smtp_env, smtp_server


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def ca_file(ca: trustme.CA, tmp_path: Path) -> Path:
    path = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def server_context(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    return context


class Logins:
    """aiosmtpd's authenticator: accepts one user and password, remembers who logged in."""

    def __init__(self, user: str, password: str) -> None:
        self.expected = (user.encode(), password.encode())
        self.seen: list[bytes] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> Any:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == self.expected
        if ok:
            self.seen.append(data.login)
        return AuthResult(success=ok)


def a_message(to: str = "a@example.com") -> Any:
    return build_mime(Message((to,), "Over TLS", "<p>hi</p>", "hi"), "ILS <no-reply@example.com>")


def transport_for(port: int, **env: str) -> SmtpTransport:
    return SmtpTransport(load_mail_settings(smtp_env(port, **env)))


@pytest.fixture
def starttls_server(
    server_context: ssl.SSLContext,
) -> Iterator[tuple[int, RecordingHandler, Logins]]:
    handler, logins = RecordingHandler(), Logins("mailer", "s3cret")
    with smtp_server(
        handler, tls_context=server_context, require_starttls=True, auth_required=True,
        authenticator=logins,
    ) as port:  # fmt: skip
        yield port, handler, logins


async def test_starttls_with_login_sends_over_one_encrypted_connection(
    starttls_server: tuple[int, RecordingHandler, Logins], ca_file: Path
):
    port, handler, logins = starttls_server
    transport = transport_for(
        port, ILS_SMTP_TLS="starttls", ILS_SMTP_CA_FILE=str(ca_file),
        ILS_SMTP_USER="mailer", ILS_SMTP_PASSWORD="s3cret",
    )  # fmt: skip
    try:
        await transport.send(a_message("one@example.com"), "one")
        await transport.send(a_message("two@example.com"), "two")
    finally:
        await transport.close()
    assert [m["To"] for m in handler.messages] == ["one@example.com", "two@example.com"]
    assert logins.seen == [b"mailer"]  # logged in once: the connection was reused
    assert transport.connections_opened == 1


async def test_implicit_tls_sends(server_context: ssl.SSLContext, ca_file: Path):
    handler = RecordingHandler()
    with smtp_server(handler, ssl_context=server_context) as port:
        transport = transport_for(port, ILS_SMTP_TLS="implicit", ILS_SMTP_CA_FILE=str(ca_file))
        try:
            await transport.send(a_message(), "implicit")
        finally:
            await transport.close()
    assert [m["Subject"] for m in handler.messages] == ["Over TLS"]


async def test_a_certificate_the_client_does_not_trust_is_a_retried_failure_and_sends_nothing(
    starttls_server: tuple[int, RecordingHandler, Logins], tmp_path: Path
):
    port, handler, _ = starttls_server
    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))  # a CA that did not sign the server's cert
    transport = transport_for(
        port, ILS_SMTP_TLS="starttls", ILS_SMTP_CA_FILE=str(other),
        ILS_SMTP_USER="mailer", ILS_SMTP_PASSWORD="s3cret",
    )  # fmt: skip
    try:
        with pytest.raises(MailTemporaryError, match="CERTIFICATE_VERIFY_FAILED"):
            await transport.send(a_message(), "untrusted")
    finally:
        await transport.close()
    assert handler.messages == []


def test_a_missing_or_unreadable_ca_bundle_fails_at_start_up(tmp_path: Path, ca_file: Path):
    with pytest.raises(ConfigurationError, match="ILS_SMTP_CA_FILE"):
        load_mail_settings(
            smtp_env(free_port(), ILS_SMTP_TLS="starttls", ILS_SMTP_CA_FILE=str(tmp_path / "no"))
        )
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigurationError, match="ILS_SMTP_CA_FILE"):
        load_mail_settings(smtp_env(free_port(), ILS_SMTP_TLS="implicit",
                                    ILS_SMTP_CA_FILE=str(junk)))  # fmt: skip
    with pytest.raises(ConfigurationError, match="needs ILS_SMTP_TLS"):
        load_mail_settings(smtp_env(free_port(), ILS_SMTP_CA_FILE=str(ca_file)))
