"""The optional ``ai`` extra (numpy, pandas, statsforecast, statsmodels): whether it is
installed, and the one clear error when it is not.

The numeric modules import these libraries at module level; everything else in :mod:`ils.jobs.ai`
imports them only through the process pool, so a process without the extra still starts its other
queues, and an ai worker fails at start-up with :class:`ConfigurationError` instead of an
``ImportError`` at the first job.
"""

from __future__ import annotations

import importlib.util

from ils.errors import ConfigurationError

REQUIRED = ("numpy", "pandas", "statsforecast", "statsmodels")
INSTALL_HINT = "install the ai extra: pip install 'ils-jobs[ai]' (make run and make test do)"


def missing_modules() -> list[str]:
    """The libraries of the ai extra that cannot be imported here (empty when all are)."""
    return [name for name in REQUIRED if importlib.util.find_spec(name) is None]


def extra_problem() -> str | None:
    """Why the ai jobs cannot run in this process, or None when they can."""
    missing = missing_modules()
    if not missing:
        return None
    return f"the ai worker needs {', '.join(missing)}, which are not installed; {INSTALL_HINT}"


def require_ai_extra() -> None:
    """Raise :class:`ConfigurationError` when the ai extra is missing (an ai worker's start-up)."""
    problem = extra_problem()
    if problem is not None:
        raise ConfigurationError(problem)
