"""The flow and batch routes on both databases: an invoice emailed through its flow (the job
answered is the email, waiting for its PDF; the flow route shows both), a bulk resend answered
with a batch id whose progress ``GET /api/batches/{id}`` shows per state, every company's daily
briefings as one batch; bad ids are a 422 naming the field, another company's a 404, a draft a
409, and the actions are audited."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models.accounts import Role
from ils.domain.models.audit import AuditEntry
from tests.web.conftest import Accounts
from tests.web.helpers import fields, outsider_admin, relayed, signed_in
from tests.web.test_billing import THREE_LENSES, create


async def issued(app: FastAPI, draft: bool = False) -> int:
    async with signed_in(app, Role.admin) as client:
        invoice = await create(client, THREE_LENSES)
        if not draft:
            response = await client.post(f"/api/invoices/{invoice['id']}/issue")
            assert response.status_code == 200, response.text
    return int(invoice["id"])


async def audited(db: Database, action: str) -> list[AuditEntry]:
    async with db.session() as s:
        return list(await s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


async def test_an_invoice_is_emailed_through_its_flow_and_the_flow_route_shows_it(
    api: FastAPI, db: Database
):
    invoice_id, draft_id = await issued(api), await issued(api, draft=True)
    async with signed_in(api, Role.admin) as client:
        response = await client.post(
            f"/api/invoices/{invoice_id}/email", json={"to": ["dana@example.com"]}
        )
        assert response.status_code == 202, response.text
        job = response.json()["job"]
        assert (job["queue"], job["name"]) == ("email", "invoice")
        assert (await client.post(f"/api/invoices/{draft_id}/email")).status_code == 409
        bad = await client.post(f"/api/invoices/{invoice_id}/email", json={"to": ["nope"]})
        assert fields(bad) == {"to.0"}
        system: JobSystem = api.state.system
        await relayed(system)
        tree = await client.get(f"/api/queue/email/jobs/{job['job_id']}/flow")
        assert tree.status_code == 200, tree.text
        root = tree.json()
        assert (root["name"], root["state"], root["on_child_failure"]) == (
            "invoice", "waiting-children", "fail"
        )  # fmt: skip
        [child] = root["children"]
        assert (child["queue"], child["name"], child["id"]) == (
            "pdf", "invoice", f"{job['job_id']}-0"
        )  # fmt: skip
        # asked from the child, the same tree
        from_child = await client.get(f"/api/queue/pdf/jobs/{child['id']}/flow")
        assert from_child.json()["id"] == job["job_id"]
    async with outsider_admin(api) as other:
        assert (await other.get(f"/api/queue/email/jobs/{job['job_id']}/flow")).status_code == 404
        assert (await other.post(f"/api/invoices/{invoice_id}/email")).status_code == 404
    [entry] = await audited(db, "invoice.emailed")
    assert entry.detail is not None and entry.detail["job_id"] == job["job_id"]


async def test_a_bulk_resend_answers_a_batch_id_whose_progress_is_shown_per_state(
    api: FastAPI, db: Database
):
    ids = [await issued(api) for _ in range(3)]
    draft = await issued(api, draft=True)
    async with signed_in(api, Role.admin) as client:
        refused = await client.post("/api/invoices/resend", json={"invoice_ids": [*ids, draft]})
        assert fields(refused) == {"invoice_ids"}
        assert str(draft) in refused.text
        assert fields(await client.post("/api/invoices/resend", json={"invoice_ids": []})) == {
            "invoice_ids"
        }
        response = await client.post("/api/invoices/resend", json={"invoice_ids": ids})
        assert response.status_code == 202, response.text
        started = response.json()
        assert (started["total"], started["queue"], started["callback"]) == (
            3, "notification", "batch-summary"
        )  # fmt: skip
        await relayed(api.state.system)
        progress = await client.get(f"/api/batches/{started['batch_id']}")
        assert progress.status_code == 200, progress.text
        body = progress.json()
        assert (body["total"], body["done"], body["callback_state"]) == (
            3, False, "waiting-children"
        )  # fmt: skip
        assert body["counts"]["pending"] == 3 and body["counts"]["completed"] == 0
        assert (await client.get("/api/batches/nope")).status_code == 404
    async with signed_in(api, Role.dispenser) as client:
        assert (
            await client.post("/api/invoices/resend", json={"invoice_ids": ids})
        ).status_code == (403)
    async with outsider_admin(api) as other:
        assert (await other.get(f"/api/batches/{started['batch_id']}")).status_code == 404
        # another company's invoices are not the outsider's to resend
        assert fields(await other.post("/api/invoices/resend", json={"invoice_ids": ids})) == {
            "invoice_ids"
        }
    [entry] = await audited(db, "invoice.resent")
    assert entry.target_id == started["batch_id"]


@pytest.mark.parametrize("role", [Role.platform_admin, Role.admin])
async def test_every_companys_daily_briefings_are_one_batch_of_the_platforms(
    api: FastAPI, accounts: Accounts, role: Role
):
    async with signed_in(api, role) as client:
        response = await client.post("/api/batches/daily-briefings", json={"date": "2026-11-30"})
        if role is not Role.platform_admin:
            assert response.status_code == 403
            return
        assert response.status_code == 202, response.text
        started = response.json()
        assert (started["total"], started["callback"]) == (2, "batch-summary")  # A and B
        await relayed(api.state.system)
        body = (await client.get(f"/api/batches/{started['batch_id']}")).json()
        assert (body["company_id"], body["counts"]["pending"]) == (None, 2)
    async with signed_in(api, Role.admin) as client:  # a company's admin: not its batch
        assert (await client.get(f"/api/batches/{started['batch_id']}")).status_code == 404
