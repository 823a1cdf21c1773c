"""Functions the pool tests run inside pool processes (module-level, so they pickle)."""

from __future__ import annotations

import os
import sys


def niceness() -> int:
    return os.nice(0)


def loaded(module: str) -> bool:
    return module in sys.modules


def pid() -> int:
    return os.getpid()
