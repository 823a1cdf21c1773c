"""The web processes of ``ils serve --processes N``: what the ``serve`` command hands each of
them (its settings, serialized, and its options), and the app each builds from that handoff.

The handoff travels inside uvicorn's configuration, which its supervisor pickles to each child it
spawns: nothing goes through the environment, the command line or a file.
"""

from __future__ import annotations

import functools
import os
import signal
from dataclasses import dataclass

from fastapi import FastAPI
from uvicorn import Config
from uvicorn.supervisors import Multiprocess

from ils.bootstrap import JobSystem, tune_gc_for_serving
from ils.logs import configure_logging
from ils.settings import IlsSettings
from ils.web.app import create_app
from ils.web.serving import UVICORN_OPTIONS, quiet_access_log


@dataclass(frozen=True)
class ServeHandoff:
    """What a web process gets from ``ils serve``: the settings (as JSON: secrets included, so it
    only ever travels parent to child) and whether and which workers it runs."""

    settings_json: str
    run_workers: bool
    queues: tuple[str, ...]

    @classmethod
    def of(cls, settings: IlsSettings, run_workers: bool, queues: tuple[str, ...]) -> ServeHandoff:
        return cls(settings.model_dump_json(), run_workers, queues)

    def settings(self) -> IlsSettings:
        return IlsSettings.model_validate_json(self.settings_json)


def app_from_handoff(handoff: ServeHandoff) -> FastAPI:
    """The app of one web process, with its own job system and in-process workers."""
    settings = handoff.settings()
    configure_logging(settings.log_level, settings.log_format)
    quiet_access_log()
    tune_gc_for_serving()
    system = JobSystem(settings)

    def on_fatal(_exc: BaseException) -> None:
        # This process stops; the serving supervisor starts a fresh one in its place.
        os.kill(os.getpid(), signal.SIGTERM)

    return create_app(
        system, run_workers=handoff.run_workers, queues=handoff.queues, on_fatal=on_fatal
    )


#: Seconds uvicorn's supervisor gives a web process to start (and to answer each later health
#: check) before it kills and replaces it. Its default, 5 s, is less than a process takes to
#: import and build the app on a loaded host: the supervisor then killed every new process in a
#: loop and none ever served.
START_TIMEOUT_S = 60


def process_config(handoff: ServeHandoff, host: str, port: int, processes: int) -> Config:
    """Uvicorn's configuration for ``processes`` web processes, each building its app from
    ``handoff``."""
    return Config(
        functools.partial(app_from_handoff, handoff),
        factory=True,
        host=host,
        port=port,
        workers=processes,
        timeout_worker_healthcheck=START_TIMEOUT_S,
        log_level=handoff.settings().log_level.lower(),
        **UVICORN_OPTIONS,
    )


def run_processes(config: Config) -> None:
    """Bind the port once and run the processes under uvicorn's supervisor (which restarts any
    that dies) until SIGINT/SIGTERM."""
    sock = config.bind_socket()
    try:
        Multiprocess(config, sockets=[sock]).run()
    except KeyboardInterrupt:
        pass
    finally:
        sock.close()
