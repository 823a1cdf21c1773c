"""The queue admin API: the whole role matrix of every endpoint, the actions end to end with
their audit entries, personal data masked for company admins, CSRF, and Redis down. (Tenancy:
tests/web/test_queue_tenancy.py.)"""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
from ils.queue.producer import EnqueueOptions
from tests.support.running import running
from tests.web.conftest import Accounts, csrf_headers, logged_in, make_client

READS: list[tuple[str, str]] = [
    ("GET", "/api/queue/workers"),
    ("GET", "/api/queue/throughput?minutes=5"),
    ("GET", "/api/queue/oma/jobs?state=failed"),
    ("GET", "/api/queue/oma/jobs/none"),
    ("GET", "/api/queue/oma/overrides"),
    ("GET", "/api/queue/outbox"),
    ("GET", "/api/queue/schedules"),
]
#: Actions on jobs: every admin role, on its own company's jobs.
ACTIONS: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/queue/oma/jobs/none/retry", None),
    ("POST", "/api/queue/oma/jobs/none/promote", None),
    ("POST", "/api/queue/oma/jobs/none/cancel", None),
    ("DELETE", "/api/queue/oma/jobs/none", None),
    ("POST", "/api/queue/oma/retry-failed", None),
    ("DELETE", "/api/queue/outbox/none", None),
]
#: Queue-wide actions (every company's jobs): platform_admin only.
QUEUE_WIDE: list[tuple[str, str, dict[str, Any] | None]] = [
    ("POST", "/api/queue/oma/clean", {"state": "completed", "older_than_s": 3600}),
    ("POST", "/api/queue/oma/pause", None),
    ("POST", "/api/queue/oma/resume", None),
    ("PUT", "/api/queue/oma/rate-limit", {"max": 5, "duration_ms": 1000}),
    ("DELETE", "/api/queue/oma/rate-limit", None),
    ("PUT", "/api/queue/oma/concurrency", {"concurrency": 1}),
    ("DELETE", "/api/queue/oma/concurrency", None),
    ("POST", "/api/queue/outbox/relay", None),
]
READERS = {Role.platform_admin, Role.admin, Role.company_admin}
OPERATORS = {Role.platform_admin}


async def call(client: Any, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    headers = csrf_headers(client) if "ils_csrf" in client.cookies else {}
    return await client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize("role", sorted(Role))
async def test_the_role_matrix_of_every_queue_admin_endpoint(api: FastAPI, role: Role):
    async with logged_in(api, role) as client:
        for method, path in READS:
            status = (await call(client, method, path)).status_code
            expected_ok = role in READERS
            assert (status not in (401, 403)) == expected_ok, (role, path, status)
        for method, path, body in ACTIONS:
            status = (await call(client, method, path, body)).status_code
            assert (status not in (401, 403)) == (role in READERS), (role, method, path, status)
            if role in READERS:
                assert status in (200, 404), (method, path, status)  # "none" is no job
        for method, path, body in QUEUE_WIDE:
            status = (await call(client, method, path, body)).status_code
            assert (status not in (401, 403)) == (role in OPERATORS), (role, method, path, status)
            if role in OPERATORS:
                assert status == 200, (method, path, status)
        audit = (await client.get("/api/audit")).status_code
        assert audit == (200 if role is Role.platform_admin else 403)
    async with make_client(api) as anonymous:
        for method, path in READS:
            assert (await call(anonymous, method, path)).status_code == 401
        for method, path, body in ACTIONS + QUEUE_WIDE:
            assert (await call(anonymous, method, path, body)).status_code == 401
        assert (await anonymous.get("/api/audit")).status_code == 401


async def test_a_cookie_action_without_its_csrf_token_is_refused(api: FastAPI):
    async with logged_in(api, Role.admin) as client:
        response = await client.post("/api/queue/oma/pause")
        assert response.status_code == 403 and "CSRF" in response.json()["detail"]
    assert not await api.state.system.admin.queue("oma").isPaused()


async def test_bad_input_is_a_422_naming_the_field(api: FastAPI):
    async with logged_in(api, Role.admin) as client:
        cases = [
            ("GET", "/api/queue/nosuch/jobs", None, "queue"),
            ("GET", "/api/queue/oma/jobs?state=finished", None, "state"),
            ("GET", "/api/queue/oma/jobs?page_size=1000", None, "page_size"),
            ("POST", "/api/queue/oma/clean", {"state": "active", "older_than_s": 1}, "state"),
            ("POST", "/api/queue/oma/clean", {"state": "failed", "older_than_s": -5}, "older"),
            ("PUT", "/api/queue/oma/rate-limit", {"max": 0}, "max"),
            ("PUT", "/api/queue/oma/concurrency", {}, "concurrency"),
        ]  # fmt: skip
        for method, path, body, field in cases:
            response = await call(client, method, path, body)
            assert response.status_code == 422, (path, response.text)
            assert field in response.text, (path, response.text)


async def test_retry_from_the_api_is_audited_and_the_job_completes(
    api: FastAPI, accounts: Accounts
):
    system: JobSystem = api.state.system
    job = await system.producer.enqueue(
        "oma", "test-probe", {"failTimes": 1}, EnqueueOptions(attempts=1),
        company_id=accounts.company_a,
    )  # fmt: skip
    async with running(system, "oma"), logged_in(api, Role.admin, ip="10.9.8.7") as client:
        await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
        page = (await client.get("/api/queue/oma/jobs?state=failed")).json()
        assert page["total"] == 1 and page["jobs"][0]["id"] == job.job_id
        detail = (await client.get(f"/api/queue/oma/jobs/{job.job_id}")).json()
        assert detail["failed_reason"] == "transient failure 1" and detail["stacktrace"]
        retried = await call(client, "POST", f"/api/queue/oma/jobs/{job.job_id}/retry")
        assert retried.status_code == 200, retried.text
        done = await system.admin.wait_for_job("oma", job.job_id, timeout_s=20)
        assert done.state == "completed"
        again = await call(client, "POST", f"/api/queue/oma/jobs/{job.job_id}/retry")
        assert again.status_code == 409 and "is completed, not failed" in again.json()["detail"]
    async with logged_in(api, Role.platform_admin) as reader:
        log = (await reader.get("/api/audit?action=queue.")).json()
    [entry] = [e for e in log["entries"] if e["action"] == "queue.job_retry"]
    assert entry["user_email"] == Accounts.email(Role.admin)
    assert entry["target_id"] == f"oma/{job.job_id}" and entry["ip"] == "10.9.8.7"
    assert entry["detail"] == {"queue": "oma"} and entry["at"]
    assert log["total"] == 1  # the refused second retry left no entry


async def test_company_admins_see_personal_fields_masked(api: FastAPI, accounts: Accounts):
    system: JobSystem = api.state.system
    data = {"to": ["patient@example.com"], "subject": "Your results, Ms Doe", "text": "Dear Jane"}
    job = await system.producer.enqueue("email", "generic", data, company_id=accounts.company_a)
    path = f"/api/queue/email/jobs/{job.job_id}"
    async with logged_in(api, Role.company_admin) as client:
        masked = (await client.get(path)).json()["data"]
    async with logged_in(api, Role.admin) as client:
        plain = (await client.get(path)).json()["data"]
    assert plain["to"] == ["patient@example.com"] and plain["text"] == "Dear Jane"
    hidden = "[personal data hidden]"
    assert masked["to"] == masked["subject"] == masked["text"] == hidden
    assert masked["template"] == "standard"  # not personal: shown


async def test_run_time_overrides_through_the_api(api: FastAPI):
    async with logged_in(api, Role.platform_admin) as client:
        body = (await call(client, "PUT", "/api/queue/pdf/rate-limit", {"max": 3})).json()
        assert body == {"queue": "pdf", "rate_max": 3, "rate_duration_ms": 1000,
                        "concurrency": None}  # fmt: skip
        body = (await call(client, "PUT", "/api/queue/pdf/concurrency", {"concurrency": 2})).json()
        assert body["concurrency"] == 2
        body = (await call(client, "DELETE", "/api/queue/pdf/rate-limit")).json()
        assert body["rate_max"] is None and body["concurrency"] == 2
        assert (await call(client, "POST", "/api/queue/pdf/pause")).status_code == 200
        assert await api.state.system.admin.queue("pdf").isPaused()
        assert (await call(client, "POST", "/api/queue/pdf/resume")).status_code == 200
        assert not await api.state.system.admin.queue("pdf").isPaused()


async def test_with_redis_down_the_job_list_is_a_503(
    app_without_redis: FastAPI, accounts: Accounts
):
    async with logged_in(app_without_redis, Role.admin) as client:
        response = await client.get("/api/queue/oma/jobs")
        assert response.status_code == 503
    async with logged_in(app_without_redis, Role.platform_admin) as client:
        assert (await client.get("/api/queue/oma/jobs")).status_code == 503
        paused = await call(client, "POST", "/api/queue/oma/pause")
        assert paused.status_code == 503
