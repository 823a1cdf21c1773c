"""Tenant isolation of the queue admin API, on both databases: another company's job is a 404 for
every job route and action, queue-wide actions are 403 for a company's admins, counts, lists,
info and throughput hold only the viewer's company's jobs, every field a job exposes is masked
for ``company_admin``, and ``/api/queue/info`` tells a paused queue from an empty one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import Role
from ils.queue.broker import BrokerHealth
from ils.queue.flows import send_flow
from ils.queue.producer import Enqueued, EnqueueOptions
from ils.queue.registry import MASK
from ils.settings import load_web_settings
from ils.web.settings import WebSettings
from tests.support.handlers import PARENT_PROBES, PROBES
from tests.support.running import running
from tests.web.conftest import (
    OUTSIDER_EMAIL,
    Accounts,
    add_user,
    csrf_headers,
    logged_in,
    login,
    make_client,
)
from tests.web.test_orders import ORDER

PROBE = next(d for d in PROBES if d.job_type.queue == "oma")
PARENT = next(d for d in PARENT_PROBES if d.job_type.queue == "oma")
COMPANY_ROLES = (Role.admin, Role.company_admin)
# These tests send more job actions per user than the bulk quota allows in a minute; quotas have
# their own tests (test_quotas.py), here a 429 would stand in front of the 404 under test.
NO_BULK_QUOTA = {"ILS_QUOTA_BULK_USER": "none", "ILS_QUOTA_BULK_COMPANY": "none"}


@pytest.fixture
def web_settings(tmp_path: Path) -> WebSettings:
    return load_web_settings(NO_BULK_QUOTA, tmp_path / "var")


ONCE = EnqueueOptions(attempts=1)
LATER = EnqueueOptions(delay_s=3600)


async def call(client: httpx.AsyncClient, method: str, path: str, body: Any = None) -> Any:
    return await client.request(method, path, json=body, headers=csrf_headers(client))


async def failed_job(system: JobSystem, company: int | None, tag: str = "x") -> Enqueued:
    job = await system.producer.enqueue(
        "oma", "test-probe", {"tag": tag, "failTimes": 1}, ONCE, company_id=company
    )
    await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
    return job


def job_routes(queue: str, job_id: str) -> list[tuple[str, str]]:
    base = f"/api/queue/{queue}/jobs/{job_id}"
    return [("GET", base), ("POST", f"{base}/retry"), ("POST", f"{base}/promote"),
            ("POST", f"{base}/cancel"), ("DELETE", base)]  # fmt: skip


async def audit_actions(app: FastAPI) -> list[str]:
    async with logged_in(app, Role.platform_admin) as reader:
        entries = (await reader.get("/api/audit?action=queue.")).json()["entries"]
    return [e["action"] for e in entries]


async def test_another_companys_job_is_a_404_for_every_job_route_and_action(
    api: FastAPI, accounts: Accounts
):
    system: JobSystem = api.state.system
    async with running(system, "oma"):
        theirs_failed = await failed_job(system, accounts.company_b)
    b = accounts.company_b
    theirs_delayed = await system.producer.enqueue("pdf", "test-probe", {}, LATER, company_id=b)
    theirs_waiting = await system.producer.enqueue("email", "test-probe", {}, company_id=b)
    jobs = [("oma", theirs_failed, "failed"), ("pdf", theirs_delayed, "delayed"),
            ("email", theirs_waiting, "waiting")]  # fmt: skip
    for role in COMPANY_ROLES:
        async with logged_in(api, role) as client:
            for queue, job, state in jobs:
                missing = {m: await call(client, m, p) for m, p in job_routes(queue, "nosuch")}
                for method, path in job_routes(queue, job.job_id):
                    response = await call(client, method, path)
                    assert response.status_code == 404, (role, method, path, response.text)
                    # The same body as a missing job's: nothing says the job exists.
                    expected = missing[method].json()["detail"].replace("nosuch", job.job_id)
                    assert response.json() == {"detail": expected}, (role, method, path)
                listed = (await client.get(f"/api/queue/{queue}/jobs?state={state}")).json()
                assert listed["total"] == 0 and listed["jobs"] == []
    for queue, job, state in jobs:  # untouched
        assert (await system.admin.get_job(queue, job.job_id)).state == state
    assert await audit_actions(api) == []  # refused actions leave no audit entry
    async with logged_in(api, Role.platform_admin) as operator:
        for queue, job, _state in jobs:
            detail = await operator.get(f"/api/queue/{queue}/jobs/{job.job_id}")
            assert detail.status_code == 200 and detail.json()["company_id"] == b


@pytest.mark.parametrize("role", COMPANY_ROLES)
async def test_a_companys_admins_act_on_their_own_jobs(
    api: FastAPI, accounts: Accounts, role: Role
):
    system: JobSystem = api.state.system
    a = accounts.company_a
    async with running(system, "oma"):
        own = await failed_job(system, a)
        theirs = await failed_job(system, accounts.company_b)
        async with logged_in(api, role) as client:
            retried = await call(client, "POST", f"/api/queue/oma/jobs/{own.job_id}/retry")
            assert retried.status_code == 200, retried.text
            assert (await system.admin.wait_for_job("oma", own.job_id, 20)).state == "completed"
            bulk = await call(client, "POST", "/api/queue/oma/retry-failed")
            assert bulk.status_code == 200 and bulk.json()["count"] == 0  # not the other's
    assert (await system.admin.get_job("oma", theirs.job_id)).state == "failed"
    delayed = await system.producer.enqueue("pdf", "test-probe", {}, LATER, company_id=a)
    async with logged_in(api, role) as client:
        path = f"/api/queue/pdf/jobs/{delayed.job_id}"
        assert (await call(client, "POST", f"{path}/promote")).status_code == 200
        assert (await call(client, "DELETE", path)).status_code == 200
        stats = (await client.get("/api/queue/stats")).json()
    assert stats["pdf"]["waiting"] == 0 and stats["oma"]["failed"] == 0
    assert await audit_actions(api) == [
        "queue.job_remove", "queue.job_promote", "queue.retry_all_failed", "queue.job_retry"
    ]  # fmt: skip


async def test_a_company_admin_cancels_its_flows_parent_with_its_children_through_the_api(
    api: FastAPI, accounts: Accounts
):
    system: JobSystem = api.state.system
    root = PARENT.step(tag="root").after(PROBE.step(tag="a"), PROBE.step(tag="b").using(LATER))
    sent = await send_flow(root, company_id=accounts.company_a, producer=system.producer)
    path = f"/api/queue/oma/jobs/{sent.job_id}/cancel"
    async with make_client(api) as outsider:
        assert (await login(outsider, OUTSIDER_EMAIL)).status_code == 200
        assert (await call(outsider, "POST", path)).status_code in (403, 404)
    async with logged_in(api, Role.company_admin) as client:
        answer = await call(client, "POST", path)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["outcome"] == "cancelling"
    assert body["cancelled"] == {
        "removed": [f"oma/{sent.job_id}-0", f"oma/{sent.job_id}-1"], "stopping": [],
        "marked": [f"oma/{sent.job_id}"], "left_alone": 0,
    }  # fmt: skip
    async with running(system, "oma"):
        assert (await system.admin.wait_for_job("oma", sent.job_id, 20)).state == "cancelled"


QUEUE_WIDE: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/queue/pdf/pause", None),
    ("POST", "/api/queue/pdf/resume", None),
    ("POST", "/api/queue/pdf/clean", {"state": "completed", "older_than_s": 0}),
    ("PUT", "/api/queue/pdf/rate-limit", {"max": 1, "duration_ms": 60000}),
    ("DELETE", "/api/queue/pdf/rate-limit", None),
    ("PUT", "/api/queue/pdf/concurrency", {"concurrency": 1}),
    ("DELETE", "/api/queue/pdf/concurrency", None),
    ("POST", "/api/queue/outbox/relay", None),
]


async def test_queue_wide_actions_are_403_for_a_companys_admins(api: FastAPI, accounts: Accounts):
    system: JobSystem = api.state.system
    for role in COMPANY_ROLES:
        async with logged_in(api, role) as client:
            for method, path, body in QUEUE_WIDE:
                response = await call(client, method, path, body)
                assert response.status_code == 403, (role, path, response.text)
                assert "platform_admin" in response.json()["detail"]
    q = system.admin.queue("pdf")
    assert not await q.isPaused()
    assert (await system.admin.actions.overrides("pdf")).to_dict() == {
        "rate_max": None, "rate_duration_ms": None, "concurrency": None
    }  # fmt: skip
    assert await audit_actions(api) == []
    async with logged_in(api, Role.platform_admin) as operator:
        for method, path, body in QUEUE_WIDE:
            assert (await call(operator, method, path, body)).status_code == 200, path


async def test_counts_lists_info_and_throughput_hold_only_the_viewers_company(
    api: FastAPI, accounts: Accounts
):
    system: JobSystem = api.state.system
    a, b = accounts.company_a, accounts.company_b
    own = [await system.producer.enqueue("pdf", "test-probe", {}, company_id=a) for _ in range(2)]
    await system.producer.enqueue("pdf", "test-probe", {}, LATER, company_id=a)
    for _ in range(3):
        await system.producer.enqueue("pdf", "test-probe", {}, company_id=b)
    await system.producer.enqueue("pdf", "test-probe", {}, LATER, company_id=b)
    await system.producer.enqueue("pdf", "test-probe", {})  # system work: the operator's
    async with running(system, "oma"):
        await failed_job(system, a)
        await failed_job(system, b)
        await failed_job(system, b)
        for role in COMPANY_ROLES:
            async with logged_in(api, role) as client:
                stats = (await client.get("/api/queue/stats")).json()
                assert (stats["pdf"]["waiting"], stats["pdf"]["delayed"]) == (2, 1)
                assert stats["oma"]["failed"] == 1
                info = (await client.get("/api/queue/info")).json()
                assert info["queues"]["pdf"]["counts"]["waiting"] == 2
                page = (await client.get("/api/queue/pdf/jobs?state=waiting")).json()
                assert page["total"] == 2
                assert {j["id"] for j in page["jobs"]} == {j.job_id for j in own}
                assert {j["company_id"] for j in page["jobs"]} == {a}
                one = (await client.get("/api/queue/pdf/jobs?state=waiting&page_size=1")).json()
                assert one["total"] == 2 and len(one["jobs"]) == 1
                series = (await client.get("/api/queue/throughput?minutes=5")).json()
                assert sum(p["failed"] for p in series["queues"]["oma"]) == 1
                for health in ((await client.get("/api/queue/health")).json(), info["health"]):
                    [worker] = health["worker_processes"]  # without its every-company counts
                    assert worker["processed"] is None and worker["failed"] is None
                    # nor the platform's make-up: where workers run, the server's version
                    assert (worker["host"], worker["pid"]) == (None, None)
                    server = set(BrokerHealth.__dataclass_fields__) - {"reachable", "latency_ms"}
                    assert all(health[k] is None for k in server), health
                    assert health["redis"] is True and health["latency_ms"] is not None
                [worker] = (await client.get("/api/queue/workers")).json()
                assert worker["processed"] is None and worker["host"] is None
        async with logged_in(api, Role.platform_admin) as operator:
            stats = (await operator.get("/api/queue/stats")).json()
            assert (stats["pdf"]["waiting"], stats["pdf"]["delayed"]) == (6, 2)
            assert stats["oma"]["failed"] == 3
            page = (await operator.get("/api/queue/pdf/jobs?state=waiting")).json()
            assert page["total"] == 6
            [worker] = (await operator.get("/api/queue/workers")).json()
            assert isinstance(worker["processed"], int)  # the operator gets the counts
            assert worker["host"] and isinstance(worker["pid"], int)  # and where it runs
            health = (await operator.get("/api/queue/health")).json()
            assert health["version"] and health["memory_used_bytes"] > 0


async def test_info_reports_a_paused_queue_as_paused(api: FastAPI, accounts: Accounts):
    system: JobSystem = api.state.system
    await system.admin.actions.pause("ai")  # no job in it: its "paused" count is 0
    async with logged_in(api, Role.admin) as client:
        info = (await client.get("/api/queue/info")).json()["queues"]
    assert info["ai"]["paused"] is True and info["ai"]["counts"]["paused"] == 0
    assert info["pdf"]["paused"] is False
    await system.admin.actions.resume("ai")
    async with logged_in(api, Role.admin) as client:
        info = (await client.get("/api/queue/info")).json()["queues"]
    assert info["ai"]["paused"] is False


SECRET = "Jane Doe, DOB 1970-01-01"


async def _with_progress(system: JobSystem, queue: str, job_id: str) -> None:
    from bullmq import Job

    job = await Job.fromId(system.admin.queue(queue), job_id)
    assert job is not None
    await job.updateProgress({"step": "letter", "patient": SECRET})


async def test_every_field_a_job_exposes_is_masked_for_a_company_admin(
    api: FastAPI, accounts: Accounts
):
    system: JobSystem = api.state.system
    a = accounts.company_a
    async with running(system, "oma"):
        failed = await failed_job(system, a, tag=SECRET)  # its reason, trace and log
        done = await system.producer.enqueue("oma", "test-probe", {"tag": SECRET}, company_id=a)
        await system.admin.wait_for_job("oma", done.job_id, timeout_s=20)
    for job in (failed, done):
        await _with_progress(system, "oma", job.job_id)
    email = {"to": ["jane@example.com"], "subject": SECRET, "text": SECRET}
    letter = await system.producer.enqueue("email", "generic", email, company_id=a)
    async with logged_in(api, Role.company_admin) as client:
        f = (await client.get(f"/api/queue/oma/jobs/{failed.job_id}")).json()
        d = (await client.get(f"/api/queue/oma/jobs/{done.job_id}")).json()
        e = (await client.get(f"/api/queue/email/jobs/{letter.job_id}")).json()
        [row] = (await client.get("/api/queue/oma/jobs?state=failed")).json()["jobs"]
    assert e["data"]["to"] == e["data"]["subject"] == e["data"]["text"] == MASK  # data
    assert e["data"]["template"] == "standard"
    assert d["return_value"] == MASK  # return value
    assert f["failed_reason"] == MASK and row["failed_reason"] == MASK  # failure reason
    assert f["stacktrace"] and set(f["stacktrace"]) == {MASK}  # stack trace
    assert f["logs"] and set(f["logs"]) == {MASK} and f["log_count"] == len(f["logs"])  # logs
    assert f["progress"] == d["progress"] == row["progress"] == MASK  # progress
    for body in (f, d, row):  # the probe's own payload field "tag" is not marked personal
        assert SECRET not in str({k: v for k, v in body.items() if k != "data"})
    assert SECRET not in str(e) and "jane@" not in str(e)
    async with logged_in(api, Role.admin) as client:  # an admin of the company reads them
        f = (await client.get(f"/api/queue/oma/jobs/{failed.job_id}")).json()
        d = (await client.get(f"/api/queue/oma/jobs/{done.job_id}")).json()
    assert f["failed_reason"] == "transient failure 1" and "RuntimeError" in f["stacktrace"][0]
    assert any(SECRET in line for line in f["logs"]) and f["progress"]["patient"] == SECRET
    assert d["return_value"] == {"runs": 1, "tag": SECRET}
    assert "_ilsCompany" not in str(f) and f["company_id"] == a


async def test_the_jobs_a_request_enqueues_are_its_users_companys(
    api: FastAPI, accounts: Accounts, db: Database, password_hash: str
):
    system: JobSystem = api.state.system
    async with logged_in(api, Role.dispenser) as client:
        response = await call(client, "POST", "/api/orders", ORDER)
    assert response.status_code == 201, response.text
    jobs = response.json()["jobs"]
    assert system.producer.relay is not None
    await system.producer.relay.wait_idle()
    async with logged_in(api, Role.admin) as admin:
        for job in jobs:
            detail = await admin.get(f"/api/queue/{job['queue']}/jobs/{job['job_id']}")
            assert detail.status_code == 200 and detail.json()["company_id"] == accounts.company_a
    await add_user(db, accounts.company_b, "admin@b.localhost", Role.admin, password_hash)
    async with make_client(api) as other:
        assert (await login(other, "admin@b.localhost")).status_code == 200
        for job in jobs:
            detail = await other.get(f"/api/queue/{job['queue']}/jobs/{job['job_id']}")
            assert detail.status_code == 404
        stats = (await other.get("/api/queue/stats")).json()
        assert sum(stats["pdf"].values()) == sum(stats["email"].values()) == 0
