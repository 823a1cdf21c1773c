"""The dead letters in the queue admin API: listed with filters and pages, inspected (masked for
company_admin), replayed once however often asked, discarded — each company its own, another's a
404 like a missing one, the operator every company's; replays and discards audited."""

from __future__ import annotations

import time

from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.models.accounts import Role
from ils.queue.processing import Failure
from ils.queue.registry import MASK
from tests.web.conftest import Accounts, csrf_headers, logged_in

EMAIL = {"to": ["patient@example.com"], "subject": "Results", "text": "Dear Jane"}
URL = "/api/queue/dead-letters"


async def dead(system: JobSystem, queue: str, name: str, payload: dict, company_id: int) -> int:
    failure = Failure(queue, name, f"job-{queue}-{company_id}", company_id, payload,
                      "550 mailbox of patient@example.com unknown", "Traceback (...)", 3,
                      int(time.time() * 1000))  # fmt: skip
    row, new = await system.dead_letters.record(failure)
    assert new
    return row.id


async def test_dead_letters_are_listed_inspected_replayed_once_and_discarded_per_company(
    api: FastAPI, accounts: Accounts
):
    system: JobSystem = api.state.system
    mine = await dead(system, "email", "generic", EMAIL, accounts.company_a)
    theirs = await dead(system, "pdf", "invoice", {"invoiceId": 5}, accounts.company_b)
    async with logged_in(api, Role.company_admin) as reader:
        page = (await reader.get(URL)).json()
        assert page["total"] == 1 and [d["id"] for d in page["dead_letters"]] == [mine]
        [shown] = page["dead_letters"]
        assert shown["payload"]["to"] == MASK and shown["payload"]["subject"] == MASK
        assert shown["reason"] == MASK and shown["stack"] == MASK
        assert shown["attempts"] == 3 and shown["replayed_as"] is None
        assert (await reader.get(f"{URL}/{theirs}")).status_code == 404
    async with logged_in(api, Role.admin) as admin:
        full = (await admin.get(f"{URL}/{mine}")).json()
        assert full["payload"] == EMAIL and full["reason"].startswith("550 mailbox")
        for method, path in (("GET", f"{URL}/{theirs}"), ("POST", f"{URL}/{theirs}/replay"),
                             ("DELETE", f"{URL}/{theirs}")):  # fmt: skip
            answer = await admin.request(method, path, headers=csrf_headers(admin))
            assert (
                answer.status_code == 404 and answer.json()["detail"] == f"no dead letter {theirs}"
            )
        first = await admin.post(f"{URL}/{mine}/replay", headers=csrf_headers(admin))
        again = await admin.post(f"{URL}/{mine}/replay", headers=csrf_headers(admin))
        assert first.json() == {"dead_letter_id": mine, "job_id": f"dlq-{mine}", "enqueued": True,
                                "error": None}  # fmt: skip
        assert again.json()["job_id"] == f"dlq-{mine}" and again.json()["enqueued"] is False
        bulk = await admin.post(f"{URL}/replay", json={"ids": [mine, theirs]},
                                headers=csrf_headers(admin))  # fmt: skip
        assert [(r["job_id"], r["enqueued"], r["error"]) for r in bulk.json()["results"]] == [
            (f"dlq-{mine}", False, None), (None, False, f"no dead letter {theirs}")]  # fmt: skip
        listed = (await admin.get(f"{URL}?replayed=false")).json()
        assert listed["total"] == 0
    await system.relay.wait_idle()
    replay = await system.admin.get_job("email", f"dlq-{mine}")
    assert replay.state == "prioritized" and EMAIL.items() <= replay.data.items()
    counts = (await system.admin.stats(["email"]))["email"]
    assert counts["prioritized"] + counts["waiting"] == 1  # one job, however often replayed
    async with logged_in(api, Role.platform_admin) as operator:
        assert (await operator.get(URL)).json()["total"] == 2
        only_b = (await operator.get(f"{URL}?company_id={accounts.company_b}&queue=pdf")).json()
        assert [d["id"] for d in only_b["dead_letters"]] == [theirs]
        later = (await operator.get(f"{URL}?name=generic&since=2999-01-01T00:00:00Z")).json()
        assert later["total"] == 0
        gone = await operator.delete(f"{URL}/{theirs}", headers=csrf_headers(operator))
        job_b = f"job-pdf-{accounts.company_b}"
        assert gone.json() == {"ok": True, "id": theirs, "queue": "pdf", "job_id": job_b}
        assert (await operator.get(URL)).json()["total"] == 1
        audit = (await operator.get("/api/audit?action=queue.dead")).json()["entries"]
        actions = [e["action"] for e in audit]
    replays = ["queue.dead_letter_replay"] * 2 + ["queue.dead_letters_replay"]
    assert sorted(actions) == sorted([*replays, "queue.dead_letter_discard"])


async def test_bad_input_is_a_422_naming_the_field(api: FastAPI, accounts: Accounts):
    async with logged_in(api, Role.admin) as admin:
        bad = {f"{URL}/abc": "dead_letter_id", f"{URL}?page_size=0": "page_size",
               f"{URL}?since=yesterday": "since", f"{URL}?queue=mail": "queue"}  # fmt: skip
        for path, field in bad.items():
            answer = await admin.get(path)
            assert answer.status_code == 422, path
            assert field in answer.text, answer.text
        empty = await admin.post(f"{URL}/replay", json={"ids": []}, headers=csrf_headers(admin))
        assert empty.status_code == 422 and "ids" in empty.text
