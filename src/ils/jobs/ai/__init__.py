"""The ai queue's worker: demand forecasts and anomaly detection computed from the company's own
data (statsforecast and statsmodels, in a process pool), ranked insights, the daily briefing,
and chat answers.

Each job type is declared beside its handler (:mod:`.demand`, :mod:`.alerts`, :mod:`.insights`,
:mod:`.briefing`, :mod:`.chat.handler`); :class:`ModelPool` (``ctx.resources.ai_models``, sized
from the ai queue's concurrency) fits the models for them.
The numeric libraries come with the optional ``ai`` extra (:mod:`ils.jobs.ai.extra`).
"""

from __future__ import annotations

from ils.jobs.ai.extra import extra_problem, require_ai_extra
from ils.jobs.ai.pool import ModelPool, ModelPoolBroken

__all__ = [
    "ModelPool",
    "ModelPoolBroken",
    "extra_problem",
    "require_ai_extra",
]
