"""The ILS job types and their handlers; :func:`build_registry` assembles them for a process.

Handlers live in one package per queue (``ils.jobs.email`` ...); the email, pdf, notification
and ai handlers are attached here, the other queues' arrive with later issues. Until a
job type has one, its jobs fail with "no handler for <queue>/<name>" and are kept.
Extra modules named in ``Settings.imports`` may register more types or handlers: each exposes
``register(registry)``.

The handler packages are imported by :func:`build_registry`, not at import: a pool process that
unpickles a function of ``ils.jobs.pdf`` or ``ils.jobs.ai`` imports this package first, and
should load only the module it runs, not every queue's handlers (about 1 s of CPU per process).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from ils.queue.errors import ConfigurationError
from ils.queue.registry import Registry
from ils.queue.settings import QUEUE_NAMES


def build_registry(imports: Iterable[str] = ()) -> Registry:
    """Every ILS job type with the handlers written so far, plus what the named modules register."""
    from ils.jobs.ai import register_ai_handlers
    from ils.jobs.catalog import JOB_TYPES
    from ils.jobs.email import register_email_handlers
    from ils.jobs.notification import register_notification_handlers
    from ils.jobs.pdf import register_pdf_handlers

    registry = Registry(QUEUE_NAMES)
    for job_type in JOB_TYPES:
        registry.add(job_type)
    register_email_handlers(registry)
    register_pdf_handlers(registry)
    register_notification_handlers(registry)
    register_ai_handlers(registry)
    for name in imports:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import job module {name!r}: {exc}") from exc
        register = getattr(module, "register", None)
        if not callable(register):
            raise ConfigurationError(f"job module {name!r} has no register(registry) function")
        register(registry)
    return registry
