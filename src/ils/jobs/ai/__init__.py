"""The ai queue's worker: demand forecasts and anomaly detection computed from the company's own
data (statsforecast and statsmodels, in a process pool), ranked insights, the daily briefing,
and chat answers.

Each job type is declared beside its handler (:mod:`.demand`, :mod:`.alerts`, :mod:`.insights`,
:mod:`.briefing`, :mod:`.chat.handler`); :class:`ModelPool` (``ctx.resources.ai_models``, sized
from the ai queue's concurrency) fits the models for them.
The numeric libraries come with the optional ``ai`` extra (:mod:`ils.jobs.ai.extra`).

This package's own module imports nothing: the declarations every process's registry loads come
without the pool (multiprocessing) or the chat provider; import them from their modules.
"""
