"""The notification queue's worker: handlers for the four notification types and the company
fan-out, which store each notification once and announce it on the live channel.

:func:`register_notification_handlers` attaches the handlers to a registry; they store with the
resources' ``db`` and announce with the resources' ``notifier`` (a
:class:`NotificationPublisher`), both built by :class:`ils.bootstrap.JobSystem`.
"""

from __future__ import annotations

from ils.jobs.notification.handlers import HANDLERS
from ils.jobs.notification.live import LiveEvent, NotificationPublisher, channel
from ils.queue.registry import Registry

__all__ = [
    "LiveEvent",
    "NotificationPublisher",
    "channel",
    "register_notification_handlers",
]


def register_notification_handlers(registry: Registry) -> None:
    """Attach the handler of every notification job type."""
    for name, handler in HANDLERS.items():
        registry.set_handler("notification", name, handler)
