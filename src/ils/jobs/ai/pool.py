"""The model pool: forecasting and anomaly scoring in worker processes, off the event loop
(guard 7).

One per process, sized from the ai queue's concurrency, built by :class:`ils.bootstrap.JobSystem`
on :class:`ils.queue.pool.ProcessPool`; its processes start at the first fit and stop at close.
Series go in as plain lists and results come back as plain dicts, so nothing but numbers
crosses between the processes.
"""

from __future__ import annotations

import importlib
from typing import Any

from ils.errors import GiveUp
from ils.jobs.ai.extra import extra_problem
from ils.queue.pool import ProcessPool, ProcessPoolBroken

ModelPoolBroken = ProcessPoolBroken

# What the pool runs, by name: the parent never imports these modules (nor numpy, pandas,
# statsmodels), so a process without the ai extra still imports ils.jobs.ai.
MODELS: dict[str, tuple[str, str]] = {
    "forecast_batch": ("ils.jobs.ai.forecasting.pipeline", "forecast_batch"),
    "forecast_series": ("ils.jobs.ai.forecasting.pipeline", "forecast_series"),
    # The Holt-Winters forecasts before statsforecast, measured side by side in bench/.
    "holt_winters_batch": ("ils.jobs.ai.forecast", "forecast_batch"),
    "detect": ("ils.jobs.ai.anomaly", "detect"),
}


def _warm() -> None:
    # Runs first in each new process: statsforecast and statsmodels load once, before the first job.
    for module, _ in MODELS.values():
        importlib.import_module(module)


def _call(name: str, *args: Any) -> Any:
    module, attr = MODELS[name]
    return getattr(importlib.import_module(module), attr)(*args)


class ModelPool:
    """Runs the functions of :mod:`ils.jobs.ai.forecasting` and :mod:`ils.jobs.ai.anomaly` named in
    :data:`MODELS` in up to ``workers`` processes (an :class:`ils.queue.pool.ProcessPool`)."""

    def __init__(self, workers: int) -> None:
        self.pool = ProcessPool(workers, "model", initializer=_warm)
        self.workers = workers

    async def run(self, name: str, *args: object) -> Any:
        """The model function ``name`` (a key of :data:`MODELS`) called with ``args`` in a pool
        process; its own error if it raises. Gives up when the ai extra is not installed."""
        if name not in MODELS:
            raise ValueError(f"unknown model function {name!r}; one of {', '.join(MODELS)}")
        problem = extra_problem()
        if problem is not None:
            raise GiveUp(problem)
        return await self.pool.run(_call, name, *args)

    async def close(self) -> None:
        """Stop the processes (fits under way finish first)."""
        await self.pool.close()
