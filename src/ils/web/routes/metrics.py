"""``GET /metrics``: the job system in the Prometheus text format, for the whole deployment.

Everything is read at scrape time from Redis (and the outbox table), where every worker process
keeps its counters (:mod:`ils.queue.metrics`), so one scrape of any web process shows all
workers; prometheus_client does the exposition format.

Access: with ``ILS_METRICS_TOKEN`` set, a scrape sends ``Authorization: Bearer <token>``;
without it, only clients from ``ILS_METRICS_ALLOW`` (default: loopback) get an answer.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterator
from ipaddress import ip_address
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from redis.exceptions import RedisError

from ils.errors import BrokerUnavailable
from ils.queue.states import COUNTED_STATES
from ils.queue.tenancy import PLATFORM
from ils.web.auth.context import web_context

router = APIRouter(tags=["metrics"])


class _Snapshot(Collector):
    """Metric families computed before the scrape is rendered (collect() must be sync)."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


def _check_access(request: Request) -> None:
    settings = web_context(request).settings
    token = settings.metrics_token
    if token is not None:
        sent = request.headers.get("authorization", "")
        expected = f"Bearer {token.get_secret_value()}"
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            raise HTTPException(
                status.HTTP_401_UNAUTHORIZED,
                detail="GET /metrics needs the ILS_METRICS_TOKEN as a bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        return
    host = request.client.host if request.client else None
    try:
        allowed = host is not None and any(ip_address(host) in n for n in settings.metrics_allow)
    except ValueError:
        allowed = False
    if not allowed:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="GET /metrics answers only ILS_METRICS_ALLOW networks (or set a token)",
        )


def _process_families(request: Request) -> list[Metric]:
    """This web process's own event loop and, when it runs workers, their lag back-off."""
    families: list[Metric] = []
    monitor = getattr(request.app.state, "loop_lag", None)
    if monitor is not None:
        lag = GaugeMetricFamily(
            "ils_web_loop_lag_seconds",
            "how late this web process runs: its event loop, or a request waiting for a slot "
            "(worst of the last half second)",
        )
        lag.add_metric([], monitor.recent_lag_s)
        families.append(lag)
    gate = getattr(request.app.state, "admission", None)
    if gate is not None:
        inflight = GaugeMetricFamily(
            "ils_web_requests_inflight", "HTTP requests this web process is running now"
        )
        inflight.add_metric([], gate.inflight)
        shed = CounterMetricFamily(
            "ils_web_requests_shed",
            "HTTP requests this web process refused with 503 for want of capacity",
        )
        shed.add_metric([], gate.shed)
        families += [inflight, shed]
    runtime = getattr(request.app.state, "runtime", None)
    backoff = getattr(runtime, "backoff", None)
    if backoff is not None:
        paused = GaugeMetricFamily(
            "ils_workers_lag_paused",
            "1 while this web process's workers take no new jobs because its event loop lags",
        )
        paused.add_metric([], 1.0 if backoff.paused else 0.0)
        pauses = CounterMetricFamily(
            "ils_workers_lag_pauses", "times this web process's workers paused for loop lag"
        )
        pauses.add_metric([], backoff.pauses)
        families += [paused, pauses]
    return families


async def _families(request: Request) -> list[Metric]:
    return _process_families(request) + await _deployment_families(request)


async def _deployment_families(request: Request) -> list[Metric]:
    system = web_context(request).system
    admin = system.admin
    health = await admin.health()
    up = GaugeMetricFamily("ils_redis_up", "1 when Redis answers a ping")
    up.add_metric([], 1.0 if health["redis"] else 0.0)
    rtt = GaugeMetricFamily("ils_redis_roundtrip_seconds", "one PING round trip")
    if health["latency_ms"] is not None:
        rtt.add_metric([], health["latency_ms"] / 1000)
    live = GaugeMetricFamily(
        "ils_workers_live", "worker processes alive, per queue", labels=["queue"]
    )
    for queue, n in health["workers"].items():
        live.add_metric([queue], n)
    server_up = GaugeMetricFamily(
        "ils_redis_server_up", "1 when the Redis server answers a ping, per server (its queues)",
        labels=["server", "queues"],
    )  # fmt: skip
    for server in health["servers"]:
        labels = [str(server["server"]), ",".join(server["queues"])]
        server_up.add_metric(labels, 1.0 if server["redis"] else 0.0)
    families: list[Metric] = [up, rtt, server_up, live, _heartbeat_age(health)]
    outbox = GaugeMetricFamily("ils_outbox_pending", "jobs written to the outbox, not yet in Redis")
    outbox.add_metric([], await admin.outbox.count(PLATFORM))
    families.append(outbox)
    families.append(_worker_memory(health["worker_processes"]))
    if not health["redis"]:
        return families
    try:
        states = await admin.states(admin.reachable_queues(health))  # their server answers
        totals = await admin.metrics.totals()
        stalled = await admin.metrics.stalled()
        waiting = await admin.metrics.oldest_waiting(states)
    except (BrokerUnavailable, RedisError):
        return families
    jobs = GaugeMetricFamily("ils_jobs", "jobs per queue and state", labels=["queue", "state"])
    pause = GaugeMetricFamily("ils_queue_paused", "1 while the queue is paused", labels=["queue"])
    for queue, (counts, paused) in states.items():
        for state in COUNTED_STATES:
            jobs.add_metric([queue, state], counts[state])
        pause.add_metric([queue], 1.0 if paused else 0.0)
    processed = CounterMetricFamily(
        "ils_jobs_processed", "job runs by outcome (completed, failed for good, retried)",
        labels=["queue", "name", "outcome"],
    )  # fmt: skip
    duration = HistogramMetricFamily(
        "ils_job_duration_seconds", "handler run time", labels=["queue", "name"]
    )
    for series in totals:
        for outcome, n in series.outcomes.items():
            processed.add_metric([series.queue, series.name, outcome], n)
        duration.add_metric(
            [series.queue, series.name], buckets=series.buckets, sum_value=series.seconds
        )
    handed_back = CounterMetricFamily(
        "ils_jobs_stalled",
        "jobs found stalled (their worker died or lost its lock) and handed back to wait",
        labels=["queue"],
    )
    oldest = GaugeMetricFamily(
        "ils_queue_oldest_waiting_seconds",
        "how long the queue's longest-waiting job has waited (0: none waits)",
        labels=["queue"],
    )
    for queue in states:
        handed_back.add_metric([queue], stalled.get(queue, 0))
        oldest.add_metric([queue], waiting.get(queue, 0.0))
    return [*families, jobs, pause, processed, duration, handed_back, oldest]


def _heartbeat_age(health: dict[str, Any]) -> Metric:
    """Per queue, seconds since the freshest heartbeat of a live worker process serving it (no
    sample for a queue without one: ``ils_workers_live`` is 0 there)."""
    age = GaugeMetricFamily(
        "ils_worker_heartbeat_age_seconds",
        "seconds since the freshest heartbeat of a worker process serving the queue",
        labels=["queue"],
    )
    now = health["checked_at"]
    freshest: dict[str, int] = {}
    for worker in health["worker_processes"]:
        for queue in worker["queues"]:
            freshest[queue] = max(freshest.get(queue, 0), int(worker["last_seen"]))
    for queue, seen in sorted(freshest.items()):
        age.add_metric([queue], max(0.0, (now - seen) / 1000))
    return age


def _worker_memory(processes: list[dict[str, Any]]) -> Metric:
    """Each live worker process's resident memory at its last heartbeat (the memory alert)."""
    memory = GaugeMetricFamily(
        "ils_worker_memory_bytes",
        "resident memory of a live worker process at its last heartbeat",
        labels=["worker", "host"],
    )
    for proc in processes:
        if proc.get("memory_bytes") is not None:
            memory.add_metric([proc["id"], proc["host"]], proc["memory_bytes"])
    return memory


@router.get(
    "/metrics",
    summary="Prometheus metrics of the job system (token or allowed networks only)",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}}, 401: {}, 403: {}},
)
async def metrics(request: Request) -> Response:
    _check_access(request)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Snapshot(await _families(request)))
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
