"""The ai queue's worker: demand forecasts and anomaly detection computed from the company's own
data (statsforecast and statsmodels, in a process pool), ranked insights, the daily briefing,
and chat answers.

:func:`register_ai_handlers` attaches the handlers to a registry; :class:`ModelPool` (built by
:class:`ils.bootstrap.JobSystem`, sized from the ai queue's concurrency) fits the models for them.
The numeric libraries come with the optional ``ai`` extra (:mod:`ils.jobs.ai.extra`).
"""

from __future__ import annotations

from ils.jobs.ai.extra import extra_problem, require_ai_extra
from ils.jobs.ai.pool import ModelPool, ModelPoolBroken
from ils.queue.registry import Registry

__all__ = [
    "ModelPool",
    "ModelPoolBroken",
    "extra_problem",
    "register_ai_handlers",
    "require_ai_extra",
]


def register_ai_handlers(registry: Registry) -> None:
    """Attach the handler of every ai job type (imported here: a model process imports this
    package first and needs only the numeric modules)."""
    from ils.jobs.ai.handlers import HANDLERS

    for name, handler in HANDLERS.items():
        registry.set_handler("ai", name, handler)
