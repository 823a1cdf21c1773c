"""The app factory for ``ils serve --processes N``: each web process builds its own app (and
job system, and in-process workers) from the environment the ``serve`` command set for it."""

from __future__ import annotations

import os
import signal

from fastapi import FastAPI

from ils.bootstrap import JobSystem, tune_gc_for_serving
from ils.logs import LOG_FORMAT_ENV, configure_logging
from ils.queue.runtime import parse_queues
from ils.queue.settings import load_settings
from ils.web.app import create_app
from ils.web.serving import quiet_access_log

# What `ils serve` hands to its web processes (beside the usual ILS_* settings).
RUN_WORKERS_ENV = "ILS_SERVE_RUN_WORKERS"
QUEUES_ENV = "ILS_SERVE_QUEUES"
LOG_LEVEL_ENV = "ILS_SERVE_LOG_LEVEL"


def app_from_env() -> FastAPI:
    configure_logging(os.environ.get(LOG_LEVEL_ENV, "INFO"), os.environ.get(LOG_FORMAT_ENV, "text"))
    quiet_access_log()
    tune_gc_for_serving()
    system = JobSystem(load_settings())

    def on_fatal(_exc: BaseException) -> None:
        # This process stops; the serving supervisor starts a fresh one in its place.
        os.kill(os.getpid(), signal.SIGTERM)

    return create_app(
        system,
        run_workers=os.environ.get(RUN_WORKERS_ENV, "1") == "1",
        queues=parse_queues(os.environ.get(QUEUES_ENV)),
        on_fatal=on_fatal,
    )
