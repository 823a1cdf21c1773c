"""Marketplace routes: a connection request emails and notifies the target's admins; the
target's answer notifies the requester; roles, duplicates and other companies are refused."""

from __future__ import annotations

from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
from tests.web.conftest import Accounts, add_user, csrf_headers, logged_in, login, make_client

B_ADMIN = "admin@b.localhost"


async def test_request_accept_and_notify(app: FastAPI, accounts: Accounts, password_hash: str):
    system: JobSystem = app.state.system
    b_admin = await add_user(
        system.database, accounts.company_b, B_ADMIN, Role.company_admin, password_hash
    )
    async with logged_in(app, Role.company_admin) as a:
        companies = (await a.get("/api/marketplace/companies")).json()
        assert [c["id"] for c in companies] == [accounts.company_b]
        asked = await a.post(
            "/api/marketplace/connections",
            json={"target_company_id": accounts.company_b, "message": "Let's work together"},
            headers=csrf_headers(a),
        )
        assert asked.status_code == 201, asked.text
        connection = asked.json()["connection"]
        jobs = asked.json()["jobs"]
        assert [(j["queue"], j["name"]) for j in jobs] == [
            ("email", "marketplace-connection"), ("notification", "marketplace"),
        ]  # fmt: skip
        again = await a.post(
            "/api/marketplace/connections", json={"target_company_id": accounts.company_b},
            headers=csrf_headers(a),
        )  # fmt: skip
        assert again.status_code == 409
        self_ask = await a.post(
            "/api/marketplace/connections", json={"target_company_id": accounts.company_a},
            headers=csrf_headers(a),
        )  # fmt: skip
        assert self_ask.status_code == 422 and "target_company_id" in self_ask.text
        own_answer = await a.post(
            f"/api/marketplace/connections/{connection['id']}/accept", headers=csrf_headers(a)
        )
        assert own_answer.status_code == 409
    assert system.producer.relay is not None
    await system.producer.relay.wait_idle()
    note = await system.admin.get_job("notification", jobs[1]["job_id"])
    assert note.data == {"userId": b_admin, "connectionId": connection["id"], "event": "requested"}

    async with make_client(app) as b:
        assert (await login(b, B_ADMIN)).status_code == 200
        listed = (await b.get("/api/marketplace/connections")).json()
        assert [c["id"] for c in listed] == [connection["id"]]
        answer = await b.post(
            f"/api/marketplace/connections/{connection['id']}/accept", headers=csrf_headers(b)
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["connection"]["status"] == "accepted"
        [told] = answer.json()["jobs"]
        twice = await b.post(
            f"/api/marketplace/connections/{connection['id']}/reject", headers=csrf_headers(b)
        )
        assert twice.status_code == 409
    await system.producer.relay.wait_idle()
    note = await system.admin.get_job("notification", told["job_id"])
    assert note.data["userId"] == accounts.by_role[Role.company_admin]
    assert note.data["event"] == "accepted"


async def test_staff_cannot_request_and_strangers_see_404(app: FastAPI, accounts: Accounts):
    async with logged_in(app, Role.optometrist) as staff:
        refused = await staff.post(
            "/api/marketplace/connections", json={"target_company_id": accounts.company_b},
            headers=csrf_headers(staff),
        )  # fmt: skip
        assert refused.status_code == 403
    async with logged_in(app, Role.company_admin) as a:
        missing = await a.post(
            "/api/marketplace/connections/424242/accept", headers=csrf_headers(a)
        )
        assert missing.status_code == 404
        unknown = await a.post(
            "/api/marketplace/connections", json={"target_company_id": 424242},
            headers=csrf_headers(a),
        )  # fmt: skip
        assert unknown.status_code == 422 and "target_company_id" in unknown.text
