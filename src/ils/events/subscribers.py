"""The in-process subscribers of a deployment, and the dispatcher that serves them.

Subscribers are listed by module in :data:`SUBSCRIBER_MODULES`, each module exposing
``subscribers(db, notifier)``, the subscribers it builds for a process; the dispatch job
(:mod:`ils.jobs.notification.events`) and ``ils events replay`` build theirs through
:func:`dispatcher_for`.
"""

from __future__ import annotations

import importlib
import weakref
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ils.domain.db import Database
from ils.errors import ConfigurationError
from ils.events.dispatcher import Dispatcher, Subscriber
from ils.events.early import EarlyMemo

if TYPE_CHECKING:
    from ils.jobs.notification.channel import NotificationPublisher

#: Modules whose ``subscribers(db, notifier)`` lists subscribers, in registration order.
SUBSCRIBER_MODULES: tuple[str, ...] = ("ils.events.live", "ils.jobs.webhooks.subscriber")
#: What this process handed early (ils.events.early), by database: shared by its passes.
_EARLY: weakref.WeakKeyDictionary[Database, dict[str, EarlyMemo]] = weakref.WeakKeyDictionary()


def built(db: Database, notifier: NotificationPublisher | None,
          modules: Iterable[str] = SUBSCRIBER_MODULES) -> list[Subscriber]:  # fmt: skip
    found: list[Subscriber] = []
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import subscriber module {name!r}: {exc}") from exc
        found += list(module.subscribers(db, notifier))
    return found


def dispatcher_for(
    db: Database,
    notifier: NotificationPublisher | None,
    settle_s: float,
    extra: Iterable[Subscriber] = (),
) -> Dispatcher:
    """A dispatcher on ``db`` with the deployment's subscribers (and ``extra``) registered."""
    early = _EARLY.setdefault(db, {})
    dispatcher = Dispatcher(db.sessions, settle_s=settle_s, early=early)
    dispatcher.register(*built(db, notifier), *extra)
    return dispatcher
