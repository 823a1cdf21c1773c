"""The mailer of one process: renders, sends through the configured transport, and keeps the
email log so that a job whose email was accepted never sends it again (guard 8).

The log is written right after the server accepts the email; a worker killed between the two
leaves the job to run again, and it sends again. That copy carries the same Message-ID (derived
from the log key, :func:`~.transports.message_id_for`), so mail servers and clients that drop
duplicate Message-IDs show the email once (docs/failures.md).

Handlers call :meth:`Mailer.deliver` with an :class:`~.outgoing.Email` and a log key (the job
id, or the job id and recipient for a job that sends several emails); the steps are: already
sent? -> check addresses -> render (off the event loop) -> send -> record.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.enums import EmailStatus
from ils.domain.models.email_log import EmailLog
from ils.domain.models.types import utcnow
from ils.errors import GiveUp
from ils.jobs.email.outgoing import Email
from ils.jobs.email.render import Renderer
from ils.jobs.email.settings import MailSettings
from ils.jobs.email.transports import (
    Message,
    Transport,
    build_mime,
    build_transport,
    check_addresses,
)


@dataclass(frozen=True)
class Delivery:
    """What :meth:`Mailer.deliver` did: ``sent`` false when the log said it was sent before."""

    key: str
    sent: bool
    message_id: str | None

    def as_result(self) -> dict[str, Any]:
        return {"key": self.key, "sent": self.sent, "messageId": self.message_id}


class Mailer:
    """Built once per process from :class:`MailSettings`; the transport's connections are
    opened as the email jobs of the process need them and reused by all of them."""

    def __init__(self, settings: MailSettings, transport: Transport | None = None) -> None:
        self.settings = settings
        self.renderer = Renderer(settings.public_url)
        self.transport = transport or build_transport(settings)

    async def deliver(self, db: Database, key: str, email: Email) -> Delivery:
        previous = await self._logged(db, key)
        if previous is not None and previous.status is EmailStatus.sent:
            return Delivery(key, sent=False, message_id=previous.message_id)
        to, subject = email.to, email.subject
        record = {"to": ", ".join(to), "subject": subject, "template": email.template,
                  "company_id": email.company_id}  # fmt: skip
        try:
            check_addresses(to)
            rendered = await asyncio.to_thread(
                self.renderer.render, email.template, subject=subject, **email.context
            )
            message = Message(
                to, subject, rendered.html, rendered.text, attachments=email.attachments
            )
            mime = build_mime(message, self.settings.sender, key)
            await self.transport.send(mime, key)
        except GiveUp as exc:
            await self._record(db, key, status=EmailStatus.failed, error=str(exc), **record)
            raise
        message_id = str(mime["Message-ID"])
        await self._record(
            db, key, status=EmailStatus.sent, message_id=message_id, sent_at=utcnow(),
            error=None, **record,
        )  # fmt: skip
        return Delivery(key, sent=True, message_id=message_id)

    async def _logged(self, db: Database, key: str) -> EmailLog | None:
        async with db.session() as session:
            found: EmailLog | None = await session.scalar(
                select(EmailLog).where(EmailLog.job_id == key)
            )
            return found

    async def _record(self, db: Database, key: str, **fields: Any) -> None:
        async with db.session() as session:
            row = await session.scalar(select(EmailLog).where(EmailLog.job_id == key))
            if row is None:
                session.add(EmailLog(job_id=key, **fields))
            else:
                for name, value in fields.items():
                    setattr(row, name, value)

    async def close(self) -> None:
        await self.transport.close()
