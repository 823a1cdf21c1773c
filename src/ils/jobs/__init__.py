"""The ILS job types; :func:`build_registry` assembles them for a process.

Each job type is declared once, beside its handler, with :func:`ils.queue.declare.job`; the
modules holding declarations are listed in :data:`JOB_MODULES` (adding a job type is one new
module plus its line here, or its name in ``Settings.imports``).

The declaring modules are imported by :func:`build_registry`, not at import: a pool process that
unpickles a function of ``ils.jobs.pdf`` or ``ils.jobs.ai`` imports this package first, and
should load only the module it runs. Heavy libraries (reportlab, Jinja2, httpx, statsmodels) are
imported by the resources that use them (:mod:`ils.jobs.resources`), not by the declarations.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ils.errors import ConfigurationError
from ils.queue.settings import QUEUE_NAMES

if TYPE_CHECKING:
    from ils.queue.registry import Registry

JOB_MODULES = (
    "ils.jobs.email.handlers",
    "ils.jobs.email.invoice",
    "ils.jobs.pdf.handlers",
    "ils.jobs.notification.handlers",
    "ils.jobs.notification.events",
    "ils.jobs.ai.demand",
    "ils.jobs.ai.alerts",
    "ils.jobs.ai.insights",
    "ils.jobs.ai.briefing",
    "ils.jobs.ai.chat.handler",
    "ils.jobs.scheduled.sync",
    "ils.jobs.scheduled.company",
    "ils.jobs.scheduled.digest",
    "ils.jobs.scheduled.retention",
    "ils.jobs.oma.handlers",
    "ils.jobs.webhooks.deliver",
)


def build_registry(imports: Iterable[str] = ()) -> Registry:
    """Every ILS job type, plus those the modules named in ``imports`` declare."""
    from ils.queue.declare import declared_in
    from ils.queue.registry import Registry

    registry = Registry(QUEUE_NAMES)
    seen: set[int] = set()  # a module may import another's declaration to enqueue it
    for name in (*JOB_MODULES, *imports):
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ConfigurationError(f"cannot import job module {name!r}: {exc}") from exc
        declared = list(declared_in(module))
        if not declared:
            raise ConfigurationError(f"job module {name!r} declares no job type (@job)")
        for job_def in declared:
            if id(job_def) not in seen:
                seen.add(id(job_def))
                registry.add(job_def.job_type)
    return registry
