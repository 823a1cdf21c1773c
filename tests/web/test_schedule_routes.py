"""``/api/schedules`` on SQLite and PostgreSQL: a company's admins keep their company's schedules
and see no other; platform admins see every company's and the platform's own; pause, resume and
run-now; bad input is a 422 naming the field; every change is audited. (Who may call each route
at all is the route matrix's: tests/web/test_route_matrix.py.)"""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from ils.domain.db import Database
from ils.domain.models import AuditEntry, Company, Role, Schedule
from ils.domain.services import companies as company_service
from tests.web.conftest import Accounts, csrf_headers, logged_in

SCAN = {"name": "early scan", "job_type": "nightly-anomaly-scan", "cron": "30 1 * * *"}


async def _defaults(db: Database, *company_ids: int) -> None:
    async with db.session() as s:
        for company_id in company_ids:
            await company_service.default_schedules(s, await s.get(Company, company_id))


async def _post(client: httpx.AsyncClient, path: str, body: Any = None) -> httpx.Response:
    return await client.post(path, json=body, headers=csrf_headers(client))


def _fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    return [".".join(str(p) for p in e["loc"][1:]) for e in response.json()["detail"]]


async def test_a_company_admin_keeps_its_own_schedules_and_sees_no_other(
    api: FastAPI, accounts: Accounts, db: Database
):
    await _defaults(db, accounts.company_a, accounts.company_b)
    async with db.session() as s:
        query = select(Schedule.id).where(Schedule.company_id == accounts.company_b)
        theirs = await s.scalar(query)
    async with logged_in(api, Role.company_admin) as client:
        listed = (await client.get("/api/schedules")).json()
        assert listed["total"] == 4
        assert {s["company_id"] for s in listed["items"]} == {accounts.company_a}
        made = await _post(client, "/api/schedules", SCAN)
        assert made.status_code == 201, made.text
        row = made.json()
        assert (row["company_id"], row["timezone"], row["enabled"]) == (accounts.company_a, None,
                                                                         True)  # fmt: skip
        assert row["scheduler_id"] == f"schedule-{row['id']}" and row["next_run_at"]
        assert (await client.get(f"/api/schedules/{theirs}")).status_code == 404
        assert (await _post(client, f"/api/schedules/{theirs}/pause")).status_code == 404
        # Another company named in the body is refused, naming the field.
        other = await _post(client, "/api/schedules",
                            SCAN | {"name": "x", "company_id": accounts.company_b})  # fmt: skip
        assert _fields(other) == ["company_id"]
        paused = (await _post(client, f"/api/schedules/{row['id']}/pause")).json()
        assert (paused["enabled"], paused["next_run_at"]) == (False, None)
        resumed = (await _post(client, f"/api/schedules/{row['id']}/resume")).json()
        assert resumed["enabled"] and resumed["next_run_at"]
        ran = await _post(client, f"/api/schedules/{row['id']}/run-now")
        assert ran.status_code == 202
        assert ran.json()["job_id"].startswith(f"schedule-{row['id']}-now-")
        changed = await client.patch(f"/api/schedules/{row['id']}", json={"every_s": 3600},
                                     headers=csrf_headers(client))  # fmt: skip
        assert (changed.json()["cron"], changed.json()["every_s"]) == (None, 3600)
        gone = await client.delete(f"/api/schedules/{row['id']}", headers=csrf_headers(client))
        assert gone.status_code == 204
        assert (await client.get(f"/api/schedules/{row['id']}")).status_code == 404
    async with db.session() as s:
        actions = list(await s.scalars(
            select(AuditEntry.action).where(AuditEntry.target_id == str(row["id"]))
            .order_by(AuditEntry.id)
        ))  # fmt: skip
    assert actions == ["schedules.created", "schedules.paused", "schedules.resumed",
                       "schedules.run_now", "schedules.changed", "schedules.removed"]  # fmt: skip


async def test_a_platform_admin_sees_every_companys_and_keeps_the_platforms_own(
    api: FastAPI, accounts: Accounts, db: Database
):
    await _defaults(db, accounts.company_a, accounts.company_b)
    async with logged_in(api, Role.platform_admin) as client:
        platform = await _post(client, "/api/schedules", {
            "name": "retention", "job_type": "retention", "cron": "15 * * * *",
            "missed_run": "skip",
        })  # fmt: skip
        assert platform.status_code == 201, platform.text
        assert platform.json()["company_id"] is None
        everything = (await client.get("/api/schedules")).json()
        assert everything["total"] == 9
        only_b = (await client.get(f"/api/schedules?company_id={accounts.company_b}")).json()
        assert {s["company_id"] for s in only_b["items"]} == {accounts.company_b}
    async with logged_in(api, Role.admin) as client:
        listed = (await client.get("/api/schedules")).json()
        assert platform.json()["id"] not in {s["id"] for s in listed["items"]}
        assert (await client.get(f"/api/schedules/{platform.json()['id']}")).status_code == 404
        # The platform's own job types are not a company's to schedule.
        own = await _post(client, "/api/schedules", {"name": "mine", "job_type": "retention",
                                                     "cron": "0 * * * *"})  # fmt: skip
        assert _fields(own) == ["job_type"]


async def test_bad_input_is_a_422_naming_the_field(api: FastAPI, accounts: Accounts):
    bad: list[tuple[dict[str, Any], str]] = [
        ({"job_type": "no-such-job"}, "job_type"),
        ({"cron": "61 * * * *"}, "cron"),
        ({"cron": "every morning"}, "cron"),
        ({"timezone": "Europe/Atlantis"}, "timezone"),
        ({"payload": {"color": "red"}}, "payload.color"),
        ({"missed_run": "twice"}, "missed_run"),
        ({"every_s": 60}, "cron"),  # both a pattern and an interval
        ({"name": ""}, "name"),
    ]
    async with logged_in(api, Role.company_admin) as client:
        for change, field in bad:
            response = await _post(client, "/api/schedules", SCAN | change)
            assert _fields(response) == [field], change
        made = (await _post(client, "/api/schedules", SCAN)).json()
        patch = await client.patch(f"/api/schedules/{made['id']}", json={"timezone": "Nowhere"},
                                   headers=csrf_headers(client))  # fmt: skip
        assert _fields(patch) == ["timezone"]
        assert _fields(await client.patch(f"/api/schedules/{made['id']}", json={"name": None},
                                          headers=csrf_headers(client))) == ["name"]  # fmt: skip
        dup = await _post(client, "/api/schedules", SCAN)
        assert _fields(dup) == ["name"]
