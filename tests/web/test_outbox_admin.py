"""The outbox in the queue admin: jobs waiting for Redis listed with their relay attempts,
relayed on demand, or discarded — each action audited; personal fields masked as elsewhere; a
company's admin sees and discards only its company's rows, and relaying is the operator's."""

from __future__ import annotations

from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
from ils.queue.outbox_row import OutboxRow
from ils.queue.tenancy import with_company
from tests.web.conftest import Accounts, csrf_headers, logged_in

EMAIL = {"to": ["patient@example.com"], "subject": "Results", "text": "Dear Jane"}


async def spool(
    system: JobSystem, queue: str, name: str, payload: dict, company_id: int | None = None
) -> str:
    row = OutboxRow.new(queue, name, with_company(payload, company_id), {})
    await system.outbox.spool(row)
    return row.id


DISPATCH = "dispatch-events"


async def test_pending_jobs_are_listed_relayed_on_demand_or_discarded(
    api: FastAPI, accounts: Accounts
):
    system: JobSystem = api.state.system
    await system.relay.stop()  # no periodic sweep: the rows stay pending until relayed here
    keep = await spool(system, "email", "generic", EMAIL, accounts.company_a)
    drop = await spool(system, "pdf", "invoice", {"invoiceId": 4}, accounts.company_a)
    other = await spool(system, "pdf", "invoice", {"invoiceId": 5}, accounts.company_b)
    async with logged_in(api, Role.company_admin) as reader:
        page = (await reader.get("/api/queue/outbox")).json()
        assert page["pending"] == 2 and [r["id"] for r in page["rows"]] == [keep, drop]
        assert page["rows"][0]["payload"]["to"] == "[personal data hidden]"
        assert page["rows"][0]["company_id"] == accounts.company_a
        refused = await reader.post("/api/queue/outbox/relay", headers=csrf_headers(reader))
        assert refused.status_code == 403
    async with logged_in(api, Role.admin) as admin:
        page = (await admin.get("/api/queue/outbox")).json()
        assert page["rows"][0]["payload"] == EMAIL  # unmasked, and without the company stamp
        theirs = await admin.delete(f"/api/queue/outbox/{other}", headers=csrf_headers(admin))
        missing = await admin.delete("/api/queue/outbox/nosuchrow", headers=csrf_headers(admin))
        assert theirs.status_code == missing.status_code == 404
        assert theirs.json()["detail"] == missing.json()["detail"].replace("nosuchrow", other)
        gone = await admin.delete(f"/api/queue/outbox/{drop}", headers=csrf_headers(admin))
        assert gone.status_code == 200 and gone.json()["pending"] == 1
        again = await admin.delete(f"/api/queue/outbox/{drop}", headers=csrf_headers(admin))
        assert again.status_code == 404 and drop in again.json()["detail"]
        refused = await admin.post("/api/queue/outbox/relay", headers=csrf_headers(admin))
        assert refused.status_code == 403  # every company's rows: the operator's to relay
    async with logged_in(api, Role.platform_admin) as operator:
        page = (await operator.get("/api/queue/outbox")).json()
        # Beside them, the platform's own rows: the event dispatch of each login (issue 19).
        rows = [r for r in page["rows"] if r["name"] != DISPATCH]
        assert [r["id"] for r in rows] == [keep, other]
        dispatches = len(page["rows"]) - len(rows)
        relayed = await operator.post("/api/queue/outbox/relay", headers=csrf_headers(operator))
        assert relayed.json() == {"relayed": 2 + dispatches, "pending": 0}
    view = await system.admin.get_job("email", keep)
    assert view.data["subject"] == "Results"
    async with logged_in(api, Role.admin) as admin:  # relayed: now in its company's job list
        listed = (await admin.get("/api/queue/email/jobs?state=waiting")).json()
        assert [j["id"] for j in listed["jobs"]] == [keep]
    async with logged_in(api, Role.platform_admin) as auditor:
        actions = [
            e["action"] for e in (await auditor.get("/api/audit?action=queue.")).json()["entries"]
        ]
    assert actions == ["queue.outbox_relay", "queue.outbox_discard"]


async def test_with_redis_down_a_relay_now_keeps_the_rows(
    app_without_redis: FastAPI, accounts: Accounts
):
    system: JobSystem = app_without_redis.state.system
    row_id = await spool(system, "email", "generic", EMAIL)
    async with logged_in(app_without_redis, Role.platform_admin) as admin:
        relayed = await admin.post("/api/queue/outbox/relay", headers=csrf_headers(admin))
        rows = (await admin.get("/api/queue/outbox")).json()["rows"]
        # Beside it, the event dispatch of the admin's login (issue 19), kept as well.
        [row] = [r for r in rows if r["name"] != DISPATCH]
        assert relayed.json() == {"relayed": 0, "pending": len(rows)}
    assert row["id"] == row_id and row["relay_attempts"] >= 1 and row["last_error"]


async def test_a_job_still_in_the_outbox_answers_its_job_route_in_state_outbox(
    api: FastAPI, accounts: Accounts
):
    system: JobSystem = api.state.system
    await (
        system.relay.stop()
    )  # the row stays pending: a job id from a commit the relay has not seen
    mine = await spool(system, "email", "generic", EMAIL, accounts.company_a)
    theirs = await spool(system, "email", "generic", EMAIL, accounts.company_b)
    async with logged_in(api, Role.company_admin) as reader:
        found = await reader.get(f"/api/queue/email/jobs/{mine}")
        assert found.status_code == 200, found.text
        job = found.json()
        assert (job["id"], job["queue"], job["name"], job["state"]) == (
            mine,
            "email",
            "generic",
            "outbox",
        )
        assert job["data"]["to"] == "[personal data hidden]" and job["attempts_made"] == 0
        assert job["company_id"] == accounts.company_a
        # Another company's pending job, and one asked for under the wrong queue: not found.
        assert (await reader.get(f"/api/queue/email/jobs/{theirs}")).status_code == 404
        assert (await reader.get(f"/api/queue/pdf/jobs/{mine}")).status_code == 404
    async with logged_in(api, Role.admin) as admin:
        assert (await admin.get(f"/api/queue/email/jobs/{mine}")).json()["data"] == EMAIL
    async with logged_in(api, Role.platform_admin) as operator:
        relayed = await operator.post("/api/queue/outbox/relay", headers=csrf_headers(operator))
        assert relayed.status_code == 200
        # Relayed: the same route answers from Redis, in the job's BullMQ state.
        assert (await operator.get(f"/api/queue/email/jobs/{mine}")).json()["state"] == "waiting"
