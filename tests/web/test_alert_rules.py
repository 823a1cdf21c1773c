"""The Prometheus alert rules (deploy/prometheus/ils-alerts.yml): well-formed, documented in
docs/monitoring.md, and every metric and label they use is one a live ``/metrics`` serves; every
family a live scrape serves is in the generated metrics reference, with its labels."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from docs import generate_metrics
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.queue.producer import EnqueueOptions
from tests.support.databases import open_database
from tests.support.running import running
from tests.web.conftest import make_client

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "deploy" / "prometheus" / "ils-alerts.yml"
DOC = REPO / "docs" / "monitoring.md"
METRIC = re.compile(r"\b(ils_[a-z0-9_]+)\b(\{[^}]*\})?")
# Functions and keywords of PromQL that may follow ``by``/``without`` or sit beside metrics.
GROUPING = re.compile(r"\b(?:by|without)\s*\(([^)]*)\)")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    """SQLite only: the rules read Redis, the database backend changes nothing here."""
    async for database in open_database("sqlite", tmp_path):
        yield database


def rules() -> list[dict[str, Any]]:
    loaded = yaml.safe_load(RULES.read_text())
    return [rule for group in loaded["groups"] for rule in group["rules"]]


def test_every_rule_is_complete_and_documented():
    doc = DOC.read_text()
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names))
    for rule in rules():
        assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule["alert"]
        assert rule["labels"]["severity"] in ("warning", "critical")
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert rule.get("for", "0m")[-1] in "smh"
        expr = rule["expr"]
        assert expr.count("(") == expr.count(")") and expr.count("{") == expr.count("}")
        assert f"### {rule['alert']}" in doc, f"docs/monitoring.md lacks {rule['alert']}"


def test_the_issues_alerts_are_all_there():
    used = {m.group(1) for rule in rules() for m in METRIC.finditer(rule["expr"])}
    for needed in (
        "ils_jobs",  # queue depth
        "ils_queue_oldest_waiting_seconds",
        "ils_jobs_processed_total",  # failure rate
        "ils_jobs_stalled_total",
        "ils_worker_memory_bytes",
        "ils_workers_live",  # missing heartbeats
    ):
        assert needed in used


async def test_every_metric_and_label_of_the_rules_is_served(app: FastAPI):
    system: JobSystem = app.state.system
    once = EnqueueOptions(attempts=1)
    done = await system.producer.enqueue("oma", "test-probe", {}, once)
    failed = await system.producer.enqueue("oma", "test-probe", {"giveUp": True}, once)
    async with make_client(app) as client:
        async with running(system, "oma"):
            for job in (done, failed):
                await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
            await system.producer.enqueue("pdf", "invoice", {"invoiceId": 1})
            live = await client.get("/metrics")  # the worker's heartbeat and memory
        after = await client.get("/metrics")  # its counters, flushed as it stopped
    assert live.status_code == after.status_code == 200
    labels: dict[str, set[str]] = {}
    memory: list[float] = []
    for response in (live, after):
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                labels.setdefault(sample.name, set()).update(sample.labels)
                if sample.name == "ils_worker_memory_bytes":
                    memory.append(sample.value)
    assert len(memory) == 1 and memory[0] > 10 * 2**20  # this process, resident: MiBs
    documented = {m.name: set(m.labels) for m in generate_metrics.metrics()}
    for response in (live, after):
        for family in text_string_to_metric_families(response.text):
            served = family.name + ("_total" if family.type == "counter" else "")
            assert served in documented, f"docs/reference/metrics.md lacks {served}"
            for sample in family.samples:
                assert set(sample.labels) - {"le"} <= documented[served], sample.name
    for rule in rules():
        expr = rule["expr"]
        for match in METRIC.finditer(expr):
            name, matchers = match.group(1), match.group(2) or ""
            assert name in labels, f"{rule['alert']}: /metrics serves no {name}"
            for label in re.findall(r"([a-z_]+)\s*(?:=~|!~|!=|=)", matchers):
                assert label in labels[name], f"{rule['alert']}: {name} has no label {label}"
        served = set().union(*(labels[m.group(1)] for m in METRIC.finditer(expr)))
        for group in GROUPING.findall(expr):
            for label in filter(None, (g.strip() for g in group.split(","))):
                assert label in served, f"{rule['alert']}: no metric of it has label {label}"
