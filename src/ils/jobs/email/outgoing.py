"""One email as a handler composes it, before the mailer renders and sends it: who it goes to,
its subject, its template with the template's context, and the company whose brand it carries.

Light on purpose: the handlers build it in every process that loads them; the mailer (Jinja2,
the SMTP client) is imported only where emails are sent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ils.jobs.email.transports import Attachment


@dataclass(frozen=True)
class Email:
    """An email to render from ``template`` with ``context`` and send to ``to``, with its
    ``attachments`` (files already read)."""

    to: tuple[str, ...]
    subject: str
    template: str
    company_id: int | None
    context: dict[str, Any]
    attachments: tuple[Attachment, ...] = ()
