"""The model pool: forecasting and anomaly scoring in worker processes, off the event loop
(guard 7).

One per process, sized from the ai queue's concurrency, built by :class:`ils.bootstrap.JobSystem`;
its processes start at the first fit and stop at close. Series go in as plain lists and results
come back as plain dicts, so nothing but numbers crosses between the processes.
"""

from __future__ import annotations

import asyncio
import importlib
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from ils.jobs.ai.extra import extra_problem
from ils.queue.errors import GiveUp, IlsJobsError


class ModelPoolBroken(IlsJobsError):
    """A model process died (killed, out of memory); the pool is rebuilt for the next job."""


# What the pool runs, by name: the parent never imports these modules (nor numpy, pandas,
# statsmodels), so a process without the ai extra still imports ils.jobs.ai.
MODELS: dict[str, tuple[str, str]] = {
    "forecast_batch": ("ils.jobs.ai.forecast", "forecast_batch"),
    "forecast_series": ("ils.jobs.ai.forecast", "forecast_series"),
    "detect": ("ils.jobs.ai.anomaly", "detect"),
}


def _warm() -> None:
    # Runs first in each new process: statsmodels loads once, before the first job.
    for module, _ in MODELS.values():
        importlib.import_module(module)


def _call(name: str, *args: Any) -> Any:
    module, attr = MODELS[name]
    return getattr(importlib.import_module(module), attr)(*args)


class ModelPool:
    """Runs the functions of :mod:`ils.jobs.ai.forecast` and :mod:`ils.jobs.ai.anomaly` named in
    :data:`MODELS` in up to ``workers`` processes."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ValueError("workers must be >= 1")
        self.workers = workers
        self._executor: ProcessPoolExecutor | None = None
        self._closed = False

    def _pool(self) -> ProcessPoolExecutor:
        if self._closed:
            raise IlsJobsError("the model pool is closed")
        problem = extra_problem()
        if problem is not None:
            raise GiveUp(problem)
        if self._executor is None:
            # spawn, not fork: the parent runs an event loop and threads that a fork would copy.
            self._executor = ProcessPoolExecutor(
                max_workers=self.workers,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_warm,
            )
        return self._executor

    async def run(self, name: str, *args: object) -> Any:
        """The model function ``name`` (a key of :data:`MODELS`) called with ``args`` in a pool
        process; its own error if it raises."""
        if name not in MODELS:
            raise ValueError(f"unknown model function {name!r}; one of {', '.join(MODELS)}")
        pool = self._pool()
        try:
            return await asyncio.get_running_loop().run_in_executor(pool, _call, name, *args)
        except BrokenProcessPool as exc:
            if self._executor is pool:
                self._executor = None
                pool.shutdown(wait=False, cancel_futures=True)
            raise ModelPoolBroken(f"a model process died: {exc}") from exc

    async def close(self) -> None:
        """Stop the processes (fits under way finish first)."""
        self._closed = True
        pool, self._executor = self._executor, None
        if pool is not None:
            await asyncio.to_thread(pool.shutdown, wait=True, cancel_futures=True)
