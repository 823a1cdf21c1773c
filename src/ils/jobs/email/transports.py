"""How an email leaves the process: the ``file`` transport (``.eml`` files under ``<var>/mail``)
or the ``smtp`` transport (aiosmtplib, a pool of at most ``smtp_connections`` connections per
worker process, so that its concurrent email jobs send at once; each reused while it stays open,
reopened when the server dropped it).

Delivery failures are classified here: a temporary one (timeout, lost connection, SMTP 4xx)
raises :class:`MailTemporaryError`, which the queue retries with backoff; a permanent one (SMTP
5xx, an invalid address) raises :class:`GiveUp` with the server's reply as the reason.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr
from pathlib import Path
from typing import Protocol

import aiosmtplib
from email_validator import EmailNotValidError, validate_email

from ils.errors import GiveUp, IlsJobsError
from ils.jobs.email.settings import MailSettings
from ils.queue.vardir import write_private

log = logging.getLogger(__name__)


class MailTemporaryError(IlsJobsError):
    """The email could not be handed over now (timeout, connection, SMTP 4xx): retry later."""


@dataclass(frozen=True)
class Attachment:
    """A file sent with an email: its name, MIME type (``application/pdf``) and bytes."""

    filename: str
    mime_type: str
    data: bytes


@dataclass(frozen=True)
class Message:
    """One email: recipients, subject, an HTML and a plain-text part, extra headers, files."""

    to: tuple[str, ...]
    subject: str
    html: str
    text: str
    headers: dict[str, str] = field(default_factory=dict)
    attachments: tuple[Attachment, ...] = ()


def check_addresses(addresses: tuple[str, ...]) -> None:
    """Raise :class:`GiveUp` naming the first address no server could ever accept."""
    if not addresses:
        raise GiveUp("no recipients")
    for address in addresses:
        try:
            validate_email(address, check_deliverability=False, test_environment=True)
        except EmailNotValidError as exc:
            raise GiveUp(f"invalid address {address!r}: {exc}") from exc


def message_id_for(key: str, sender: str) -> str:
    """The Message-ID of the email logged under ``key`` (the job id, or job id and recipient):
    the same for every attempt, so a copy re-sent after a crash between the server's acceptance
    and the log's record is recognisably the same email, and dropped downstream."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    return f"<ils.{digest}@{domain}>"


def build_mime(message: Message, sender: str, key: str | None = None) -> EmailMessage:
    """The multipart/alternative MIME message (text first, HTML preferred), with a Message-ID
    derived from ``key`` (:func:`message_id_for`; a random one without it); multipart/mixed
    around it when files are attached."""
    mime = EmailMessage()
    mime["From"] = sender
    mime["To"] = ", ".join(message.to)
    mime["Subject"] = message.subject
    mime["Date"] = formatdate(localtime=False, usegmt=True)
    domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"
    mime["Message-ID"] = message_id_for(key, sender) if key else make_msgid(domain=domain)
    for name, value in message.headers.items():
        mime[name] = value
    mime.set_content(message.text)
    mime.add_alternative(message.html, subtype="html")
    for file in message.attachments:
        maintype, _, subtype = file.mime_type.partition("/")
        mime.add_attachment(file.data, maintype=maintype, subtype=subtype, filename=file.filename)
    return mime


class Transport(Protocol):
    async def send(self, mime: EmailMessage, key: str) -> None:
        """Hand ``mime`` over for delivery; ``key`` (the job id) names it where useful."""

    async def close(self) -> None: ...


class FileTransport:
    """Writes each email as ``<mail_dir>/<key>.eml``: the zero-setup default (no mail server)."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def path_for(self, key: str) -> Path:
        return self.directory / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', key)}.eml"

    def _write(self, mime: EmailMessage, key: str) -> None:
        # Readers never see half a file; the mail holds patient data, so it is made 0600.
        write_private(self.path_for(key), mime.as_bytes())

    async def send(self, mime: EmailMessage, key: str) -> None:
        await asyncio.to_thread(self._write, mime, key)

    async def close(self) -> None:
        return None


def _reply(exc: aiosmtplib.SMTPResponseException) -> str:
    return f"SMTP {exc.code} {exc.message}".strip()


def classify(exc: BaseException) -> BaseException:
    """The outcome a delivery error means: :class:`GiveUp` (permanent) or a retryable error."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{r.recipient}: {_reply(r)}" for r in exc.recipients)
        if exc.recipients and all(r.code >= 500 for r in exc.recipients):
            return GiveUp(replies)
        return MailTemporaryError(replies or str(exc))
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        if exc.code >= 500:
            return GiveUp(_reply(exc))
        return MailTemporaryError(_reply(exc))
    if isinstance(exc, (aiosmtplib.SMTPException, OSError, TimeoutError)):
        return MailTemporaryError(f"{type(exc).__name__}: {exc}")
    return exc


class SmtpTransport:
    """A pool of at most ``smtp_connections`` SMTP connections, shared by the concurrent jobs of
    the worker process: each send takes an idle connection (or opens one while fewer are open),
    runs its transaction alone on it and puts it back; one the server dropped is reopened."""

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings
        # A send holds a slot for as long as it holds a connection, and opens one only when none
        # is idle, so the open connections (held ones and idle ones) never outnumber the slots.
        self._slots = asyncio.Semaphore(settings.smtp_connections)
        self._idle: list[aiosmtplib.SMTP] = []
        self._closing = asyncio.Lock()
        self._tls_context = settings.tls_context()
        self.connections_opened = 0

    def _new_client(self) -> aiosmtplib.SMTP:
        s = self.settings
        return aiosmtplib.SMTP(
            hostname=s.smtp_host,
            port=s.port,
            username=s.smtp_user,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            use_tls=s.smtp_tls == "implicit",
            start_tls=s.smtp_tls == "starttls",
            tls_context=self._tls_context,
            timeout=s.smtp_timeout_s,
        )

    async def _open(self) -> aiosmtplib.SMTP:
        client = self._new_client()
        await client.connect()
        self.connections_opened += 1
        return client

    async def _take(self) -> aiosmtplib.SMTP:
        """The most recently used idle connection still open (the others may have timed out
        sooner), else a new one. Only called while holding a slot."""
        while self._idle:
            client = self._idle.pop()
            if client.is_connected:
                return client
        return await self._open()

    @staticmethod
    def _drop(client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            client.close()

    async def send(self, mime: EmailMessage, key: str) -> None:
        async with self._slots:
            client: aiosmtplib.SMTP | None = None
            try:
                try:
                    client = await self._take()
                    refused, _ = await client.send_message(mime)
                except aiosmtplib.SMTPServerDisconnected:
                    # An idle connection the server closed: open a new one and try once more.
                    self._drop(client)
                    client = None  # nothing to drop again if the new one cannot be opened
                    client = await self._open()
                    refused, _ = await client.send_message(mime)
            except Exception as exc:
                outcome = classify(exc)
                # After a refusal the server is still talking to us (aiosmtplib sent RSET): keep
                # the connection. After anything else its state is unknown: drop it (the next
                # send opens a new one).
                if isinstance(
                    exc, aiosmtplib.SMTPResponseException | aiosmtplib.SMTPRecipientsRefused
                ):
                    self._put_back(client)
                else:
                    self._drop(client)
                if outcome is exc:
                    raise
                raise outcome from exc
            except BaseException:
                self._drop(client)  # cancelled mid-transaction: the connection's state is unknown
                raise
            self._put_back(client)
        if refused:
            # Accepted for the other recipients, so it is sent and not retried (a retry would
            # send it to them twice). Codes only: addresses are personal data, kept out of logs.
            codes = ", ".join(str(reply.code) for reply in refused.values())
            log.warning("email %s refused for %d of its recipients (%s)", key, len(refused), codes)

    def _put_back(self, client: aiosmtplib.SMTP | None) -> None:
        if client is not None and client.is_connected:
            self._idle.append(client)

    async def close(self) -> None:
        """Quit every connection, once the sends in flight are done (it holds every slot)."""
        async with self._closing:
            held = 0
            try:
                for _ in range(self.settings.smtp_connections):
                    await self._slots.acquire()
                    held += 1
                idle, self._idle = self._idle, []
                await asyncio.gather(*(self._quit(client) for client in idle))
            finally:
                for _ in range(held):
                    self._slots.release()

    @staticmethod
    async def _quit(client: aiosmtplib.SMTP) -> None:
        if not client.is_connected:
            return
        try:
            await client.quit()
        except (aiosmtplib.SMTPException, OSError):
            client.close()


def build_transport(settings: MailSettings) -> Transport:
    if settings.transport == "smtp":
        return SmtpTransport(settings)
    return FileTransport(settings.mail_dir)
