"""A clock tests move by hand, put into a running app's web context in place of the real one."""

from __future__ import annotations

import dataclasses
import datetime as dt

from fastapi import FastAPI

from ils.domain.models.types import utcnow


class ManualClock:
    """Starts at the real current time; only :meth:`advance` moves it."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def install_clock(app: FastAPI) -> ManualClock:
    clock = ManualClock()
    app.state.web = dataclasses.replace(app.state.web, clock=clock)
    return clock
