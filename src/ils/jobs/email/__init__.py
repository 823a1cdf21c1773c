"""The email queue's worker: handlers for the six email job types, their templates, the mail
transports (``file`` by default, ``smtp``) and the email log that makes each email go once.

:func:`register_email_handlers` attaches the handlers to a registry; :class:`Mailer` (built from
the root settings' mail section at start-up) is what they send with, found in the job's resources.
"""

from __future__ import annotations

from ils.jobs.email.handlers import HANDLERS
from ils.jobs.email.mailer import Delivery, Mailer
from ils.jobs.email.settings import MailSettings
from ils.jobs.email.transports import MailTemporaryError, Message
from ils.queue.registry import Registry

__all__ = [
    "Delivery",
    "MailSettings",
    "MailTemporaryError",
    "Mailer",
    "Message",
    "register_email_handlers",
]


def register_email_handlers(registry: Registry) -> None:
    """Attach the handler of every email job type; they send with the resources' ``mailer``."""
    for name, handler in HANDLERS.items():
        registry.set_handler("email", name, handler)
