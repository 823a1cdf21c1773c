"""The FastAPI application factory, and the lifespan that runs the workers in-process.

The domain API, auth and the admin routes arrive with later issues; this app already serves
liveness and readiness, and ``ils serve`` runs the workers inside it unless ``--no-workers``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ils import __version__
from ils.bootstrap import JobSystem
from ils.queue.runtime import WorkerRuntime
from ils.queue.settings import QUEUE_NAMES

log = logging.getLogger("ils.web")


def create_app(
    system: JobSystem,
    run_workers: bool = True,
    queues: tuple[str, ...] = QUEUE_NAMES,
    on_fatal: Callable[[BaseException], None] | None = None,
) -> FastAPI:
    """Build the app around ``system``. With ``run_workers`` the lifespan starts the workers."""
    runtime: WorkerRuntime | None = (
        system.runtime(queues, on_fatal=on_fatal) if run_workers else None
    )

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        system.install()
        starting: asyncio.Task[None] | None = None
        if runtime is not None:
            # Started in the background: the app answers while it waits for Redis.
            starting = asyncio.create_task(runtime.start(), name="ils-workers-start")
        else:
            log.info("workers not started here (--no-workers): run `ils worker`")
        try:
            yield
        finally:
            if starting is not None:
                starting.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await starting
            if runtime is not None:
                await runtime.stop()
            await system.close()

    app = FastAPI(title="ILS Jobs", version=__version__, lifespan=lifespan)
    app.state.system = system
    app.state.runtime = runtime

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    @app.get("/readyz", tags=["health"], summary="Readiness: Redis answers")
    async def readyz() -> JSONResponse:
        health = await system.broker.health()
        body = {"redis": health.reachable, "latency_ms": health.latency_ms, "error": health.error}
        return JSONResponse(body, status_code=200 if health.reachable else 503)

    return app
