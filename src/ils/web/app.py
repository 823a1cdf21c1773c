"""The FastAPI application factory, and the lifespan that runs the workers in-process.

``create_app`` assembles the routers (auth, queue monitoring and administration, the dashboard,
notifications and their ``/ws``, AI chat), the error mapping and liveness and readiness probes
around one :class:`JobSystem`; the lifespan keeps the process's one live-notification subscription
(:class:`LiveHub`); ``ils serve`` runs the workers inside it unless ``--no-workers``. Tables come
from the migrations, never from here.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from ils import __version__, lifecycle
from ils.bootstrap import JobSystem
from ils.queue.loadguard import LoopLagMonitor
from ils.queue.runtime import WorkerRuntime
from ils.queue.settings import QUEUE_NAMES
from ils.web.admission import Admission, Gate
from ils.web.auth.context import WebContext
from ils.web.auth.routes import router as auth_router
from ils.web.dashboard import install_dashboard
from ils.web.errors import install_error_handlers
from ils.web.hostile import JsonGuard
from ils.web.live_hub import LiveHub
from ils.web.proxies import ClientAddress
from ils.web.routes.ai_chat import router as ai_chat_router
from ils.web.routes.ai_forecasts import router as ai_forecasts_router
from ils.web.routes.audit import router as audit_router
from ils.web.routes.batches import router as batches_router
from ils.web.routes.billing import router as billing_router
from ils.web.routes.catalog import router as catalog_router
from ils.web.routes.dead_letters import router as dead_letters_router
from ils.web.routes.documents import router as documents_router
from ils.web.routes.events import router as events_router
from ils.web.routes.marketplace import router as marketplace_router
from ils.web.routes.metrics import router as metrics_router
from ils.web.routes.notifications import router as notifications_router
from ils.web.routes.oma import router as oma_router
from ils.web.routes.orders import router as orders_router
from ils.web.routes.outbox import router as outbox_router
from ils.web.routes.patients import router as patients_router
from ils.web.routes.purchasing import router as purchasing_router
from ils.web.routes.queue import router as queue_router
from ils.web.routes.queue_actions import router as queue_actions_router
from ils.web.routes.queue_admin import router as queue_admin_router
from ils.web.routes.queue_events import router as queue_events_router
from ils.web.routes.schedules import router as schedules_router
from ils.web.routes.webhooks import router as webhooks_router
from ils.web.routes.websocket import router as live_router
from ils.web.settings import WebSettings
from ils.web.shutdown import ShutdownFlag

log = logging.getLogger("ils.web")


class LivenessOut(BaseModel):
    status: str
    version: str


class ReadinessOut(BaseModel):
    redis: bool
    latency_ms: float | None
    error: str | None


def create_app(
    system: JobSystem,
    run_workers: bool = True,
    queues: tuple[str, ...] = QUEUE_NAMES,
    on_fatal: Callable[[BaseException], None] | None = None,
    *,
    web_settings: WebSettings | None = None,
) -> FastAPI:
    """Build the app around ``system``. With ``run_workers`` the lifespan starts the workers.

    ``web_settings`` defaults to the web section of the system's settings; an invalid value
    raises :class:`~ils.errors.ConfigurationError` here, at start-up.
    """
    settings = web_settings or system.settings.web_settings()
    # Measured in every web process (/metrics shows it); in-process workers yield to it.
    loop_lag = LoopLagMonitor()
    runtime: WorkerRuntime | None = (
        system.runtime(queues, on_fatal=on_fatal, lag_monitor=loop_lag) if run_workers else None
    )
    hub = LiveHub(system.broker, system.database)

    shutdown = ShutdownFlag()

    def stop_streams() -> None:
        shutdown.raise_flag()
        shutdown.restore_signals()

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if runtime is None:
            log.info("workers not started here (--no-workers): run `ils worker`")
        async with lifecycle.running(
            system,
            runtime,
            first=[lifecycle.part(loop_lag.start, loop_lag.stop)],
            last=[
                # Event streams end on SIGINT/SIGTERM, not after the server.
                lifecycle.part(shutdown.chain_signals, stop_streams),
                # Subscribes in the background: the app answers while Redis is away.
                lifecycle.part(hub.start, hub.stop),
            ],
            workers_in_background=True,
        ):
            yield

    # max_body_size: larger bodies answer 413 before anything reads them (Content-Length or,
    # for chunked bodies, as the bytes arrive); a route that takes uploads may set its own.
    app = FastAPI(
        title="ILS Jobs",
        version=__version__,
        lifespan=lifespan,
        max_body_size=settings.max_body_bytes,
    )
    app.add_middleware(JsonGuard)
    app.add_middleware(ClientAddress, trusted=settings.trusted_proxies)
    # Outermost: a request refused for want of capacity costs as little as possible.
    gate = Gate(settings.max_inflight, settings.queue_timeout_ms / 1000, on_wait=loop_lag.record)
    app.add_middleware(Admission, gate=gate)
    app.state.system = system
    app.state.runtime = runtime
    app.state.loop_lag = loop_lag
    app.state.admission = gate
    app.state.live = hub
    app.state.shutdown = shutdown
    app.state.web = WebContext.build(system, settings)
    install_error_handlers(app)
    app.include_router(auth_router)
    app.include_router(queue_router)
    # Before the queue admin's routes: /api/queue/outbox/... would match /api/queue/{queue}/...
    app.include_router(outbox_router)
    app.include_router(dead_letters_router)
    app.include_router(queue_admin_router)
    app.include_router(queue_actions_router)
    app.include_router(queue_events_router)
    app.include_router(schedules_router)
    app.include_router(webhooks_router)
    app.include_router(audit_router)
    app.include_router(events_router)
    app.include_router(metrics_router)
    app.include_router(orders_router)
    app.include_router(marketplace_router)
    app.include_router(patients_router)
    app.include_router(catalog_router)
    app.include_router(purchasing_router)
    app.include_router(billing_router)
    app.include_router(batches_router)
    app.include_router(documents_router)
    app.include_router(oma_router)
    app.include_router(notifications_router)
    app.include_router(ai_chat_router)
    app.include_router(ai_forecasts_router)
    app.include_router(live_router)
    install_dashboard(app)

    @app.get(
        "/healthz",
        tags=["health"],
        response_model=LivenessOut,
        summary="Liveness: the process answers",
    )
    async def healthz() -> LivenessOut:
        return LivenessOut(status="ok", version=__version__)

    @app.get(
        "/readyz",
        tags=["health"],
        response_model=ReadinessOut,
        summary="Readiness: Redis answers",
        responses={503: {"model": ReadinessOut}},
    )
    async def readyz() -> JSONResponse:
        health = await system.broker.health()
        body = ReadinessOut(
            redis=health.reachable, latency_ms=health.latency_ms, error=health.error
        )
        return JSONResponse(body.model_dump(), status_code=200 if health.reachable else 503)

    return app
