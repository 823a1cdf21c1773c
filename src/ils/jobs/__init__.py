"""The ILS job types; :func:`build_registry` assembles them for a process.

Each job type is declared once, beside its handler, with :func:`ils.queue.declare.job`; the
modules holding declarations are listed in :data:`JOB_MODULES` (adding a job type is one new
module plus its line here, or its name in ``Settings.imports``).

The declaring modules are imported by the registry :func:`build_registry` makes, a queue's when it
is first asked about that queue (a notification worker imports no PDF or AI declarations), not
at import: a pool process that unpickles a function of ``ils.jobs.pdf`` or ``ils.jobs.ai``
imports this package first, and should load only the module it runs. Heavy libraries
(reportlab, Jinja2, httpx, statsmodels) are imported by the resources that use them
(:mod:`ils.jobs.resources`), not by the declarations.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from ils.errors import ConfigurationError
from ils.queue.settings import QUEUE_NAMES

if TYPE_CHECKING:
    from ils.queue.registry import Registry

# Each declaring module -> the queues of the job types it defines (a module may import another's
# declaration to enqueue it; that one is the other module's). A test keeps this map true.
JOB_MODULES: dict[str, tuple[str, ...]] = {
    "ils.jobs.email.handlers": ("email",),
    "ils.jobs.email.invoice": ("email",),
    "ils.jobs.pdf.handlers": ("pdf",),
    "ils.jobs.notification.handlers": ("notification",),
    "ils.jobs.notification.events": ("notification",),
    "ils.jobs.ai.demand": ("ai",),
    "ils.jobs.ai.alerts": ("ai",),
    "ils.jobs.ai.insights": ("ai",),
    "ils.jobs.ai.briefing": ("ai",),
    "ils.jobs.ai.chat.handler": ("ai",),
    "ils.jobs.scheduled.sync": ("scheduled",),
    "ils.jobs.scheduled.company": ("scheduled",),
    "ils.jobs.scheduled.digest": ("scheduled",),
    "ils.jobs.scheduled.retention": ("scheduled",),
    "ils.jobs.oma.handlers": ("oma",),
    "ils.jobs.webhooks.deliver": ("notification",),
}


class _Declarations:
    """Imports declaring modules into one registry, each once, each declaration added once."""

    def __init__(self) -> None:
        from ils.queue.registry import Registry

        self.registry = Registry(QUEUE_NAMES, load=self.load_queues)
        self.imported: set[str] = set()
        self.seen: set[int] = set()  # a module may import another's declaration to enqueue it

    def load_queues(self, queues: tuple[str, ...]) -> None:
        """Import the modules of ILS's job types on ``queues`` (the registry's loader)."""
        self.load_modules(name for name, on in JOB_MODULES.items() if set(on) & set(queues))

    def load_modules(self, names: Iterable[str]) -> None:
        from ils.queue.declare import declared_in

        for name in names:
            if name in self.imported:
                continue
            try:
                module = importlib.import_module(name)
            except ImportError as exc:
                raise ConfigurationError(f"cannot import job module {name!r}: {exc}") from exc
            declared = list(declared_in(module))
            if not declared:
                raise ConfigurationError(f"job module {name!r} declares no job type (@job)")
            self.imported.add(name)
            for job_def in declared:
                if id(job_def) not in self.seen:
                    self.seen.add(id(job_def))
                    self.registry.add(job_def.job_type)


def build_registry(imports: Iterable[str] = ()) -> Registry:
    """Every ILS job type, plus those the modules named in ``imports`` declare. The modules of
    ``imports`` are imported now (they may declare on any queue); ILS's own, a queue at a time
    when the registry is first asked about that queue (a worker of one queue imports that
    queue's job modules only)."""
    declarations = _Declarations()
    declarations.load_modules(imports)
    return declarations.registry
