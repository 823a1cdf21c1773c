"""``GET /metrics``: Prometheus text with the queues, job totals and run times of every worker,
open to loopback by default, to other networks only when allowed, or to a bearer token."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import ConfigurationError
from ils.queue.producer import EnqueueOptions
from ils.queue.settings import Settings
from ils.settings import load_web_settings
from tests.conftest import REPO, probe_registry
from tests.support.running import running
from tests.web.conftest import make_client, serve

TOKEN = "s3cret-scrape-token-0123"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def test_metrics_show_queues_totals_and_durations(app: FastAPI):
    system: JobSystem = app.state.system
    once = EnqueueOptions(attempts=1)
    ids = [(await system.producer.enqueue("oma", "test-probe", {}, once)).job_id for _ in range(2)]
    ids.append((await system.producer.enqueue("oma", "test-probe", {"giveUp": True}, once)).job_id)
    async with running(system, "oma"):
        for job_id in ids:
            await system.admin.wait_for_job("oma", job_id, timeout_s=20)
    await system.producer.enqueue("pdf", "invoice", {"invoiceId": 1})
    async with make_client(app) as client:
        response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    got = samples(response.text)
    assert got[("ils_redis_up", ())] == 1
    assert got[("ils_redis_roundtrip_seconds", ())] >= 0
    assert got[("ils_jobs", (("queue", "pdf"), ("state", "prioritized")))] == 1
    assert got[("ils_jobs", (("queue", "oma"), ("state", "completed")))] == 2
    assert got[("ils_queue_paused", (("queue", "pdf"),))] == 0
    series = (("name", "test-probe"), ("queue", "oma"))
    assert (
        got[("ils_jobs_processed_total", (*series[:1], ("outcome", "completed"), series[1]))] == 2
    )
    assert got[("ils_jobs_processed_total", (*series[:1], ("outcome", "failed"), series[1]))] == 1
    assert got[("ils_job_duration_seconds_count", series)] == 3
    assert got[("ils_job_duration_seconds_bucket", (("le", "+Inf"), *series))] == 3
    assert got[("ils_workers_live", (("queue", "oma"),))] == 0  # the runtime has stopped
    assert got[("ils_outbox_pending", ())] == 0


async def test_metrics_refuse_other_networks_unless_allowed(app: FastAPI):
    async with make_client(app, ip="203.0.113.9") as client:
        response = await client.get("/metrics")
    assert response.status_code == 403 and "ILS_METRICS_ALLOW" in response.json()["detail"]


async def test_a_metrics_token_is_required_once_set(
    settings: Settings, db: Database, tmp_path: Path
):
    web = load_web_settings({"ILS_METRICS_TOKEN": TOKEN}, tmp_path / "var")
    system = JobSystem(settings, registry=probe_registry(), database=db)
    async for app in serve(system, web):
        async with make_client(app, ip="203.0.113.9") as client:
            assert (await client.get("/metrics")).status_code == 401
            wrong = await client.get("/metrics", headers={"Authorization": "Bearer nope"})
            assert wrong.status_code == 401
            ok = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
            assert ok.status_code == 200 and "ils_redis_up 1.0" in ok.text


async def test_the_docs_scrape_job_reads_the_metrics_as_prometheus_would(
    settings: Settings, db: Database, tmp_path: Path
):
    """docs/examples/prometheus.yml: its path and bearer token (from the credentials file) get
    the Prometheus text of a running app, which Prometheus' own parser reads."""
    config = yaml.safe_load((REPO / "docs" / "examples" / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["authorization"]["type"] == "Bearer"
    token_file = tmp_path / Path(job["authorization"]["credentials_file"]).name
    token_file.write_text(TOKEN + "\n")
    web = load_web_settings({"ILS_METRICS_TOKEN": TOKEN}, tmp_path / "var")
    system = JobSystem(settings, registry=probe_registry(), database=db)
    async for app in serve(system, web):
        async with make_client(app, ip="203.0.113.9") as client:
            bearer = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
            scraped = await client.get(job["metrics_path"], headers=bearer)
    assert scraped.status_code == 200
    assert scraped.headers["content-type"].startswith("text/plain")
    assert samples(scraped.text)[("ils_redis_up", ())] == 1.0


def test_metrics_settings_are_checked_at_start_up(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="ILS_METRICS_ALLOW"):
        load_web_settings({"ILS_METRICS_ALLOW": "10.0.0.0/8, not-a-net"}, tmp_path)
    with pytest.raises(ConfigurationError, match="ILS_METRICS_TOKEN"):
        load_web_settings({"ILS_METRICS_TOKEN": "short"}, tmp_path)
    with pytest.raises(ConfigurationError, match="did you mean ILS_METRICS_TOKEN"):
        load_web_settings({"ILS_METRICS_TOKN": TOKEN}, tmp_path)
    allowed = load_web_settings({"ILS_METRICS_ALLOW": "10.0.0.0/8,::1"}, tmp_path)
    assert [str(n) for n in allowed.metrics_allow] == ["10.0.0.0/8", "::1/128"]


async def test_job_names_that_are_not_registered_are_counted_as_unknown(app: FastAPI):
    """Issue 16, defect 5: a producer sending random names adds one series, not one per name."""
    system: JobSystem = app.state.system
    queue = system.broker.queues.get("oma")
    names = [f"random-{i}" for i in range(5)]
    jobs = [await queue.add(name, {}, {"attempts": 1}) for name in names]
    async with running(system, "oma"):
        for job in jobs:
            await system.admin.wait_for_job("oma", str(job.id), timeout_s=20)
    async with make_client(app) as client:
        text = (await client.get("/metrics")).text
    got = samples(text)
    unknown = (("name", "unknown"), ("outcome", "failed"), ("queue", "oma"))
    assert got[("ils_jobs_processed_total", unknown)] == len(names)
    assert not [line for line in text.splitlines() if "random-" in line]
    series = [t.name for t in await system.admin.metrics.totals() if t.queue == "oma"]
    assert series == ["unknown"]


async def test_metrics_show_waiting_age_stalled_jobs_and_heartbeats(app: FastAPI):
    """What the alert rules watch: the oldest waiting job's age, stalled jobs handed back, and
    how fresh the workers' heartbeats are."""
    system: JobSystem = app.state.system
    minute_ago = int((time.time() - 60) * 1000)
    await system.broker.queues.get("email").add("old", {}, {"timestamp": minute_ago})
    async with running(system, "oma") as runtime, make_client(app) as client:
        assert runtime.metrics is not None
        runtime.metrics.record_stalled("oma", 2)
        await runtime.metrics.flush()
        got = samples((await client.get("/metrics")).text)
    assert 60 <= got[("ils_queue_oldest_waiting_seconds", (("queue", "email"),))] < 600
    assert got[("ils_queue_oldest_waiting_seconds", (("queue", "pdf"),))] == 0
    assert got[("ils_jobs_stalled_total", (("queue", "oma"),))] == 2
    assert got[("ils_jobs_stalled_total", (("queue", "pdf"),))] == 0
    assert 0 <= got[("ils_worker_heartbeat_age_seconds", (("queue", "oma"),))] < 60
    assert ("ils_worker_heartbeat_age_seconds", (("queue", "pdf"),)) not in got
