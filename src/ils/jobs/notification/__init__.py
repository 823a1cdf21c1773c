"""The notification queue's worker: handlers for the four notification types and the company
fan-out, which store each notification once and announce it on the live channel.

The job types are declared in :mod:`.handlers`; they store with ``ctx.resources.db`` and announce
with ``ctx.resources.notifier`` (a :class:`NotificationPublisher`).
"""

from __future__ import annotations

from ils.jobs.notification.channel import LiveEvent, NotificationPublisher, channel

__all__ = [
    "LiveEvent",
    "NotificationPublisher",
    "channel",
]
