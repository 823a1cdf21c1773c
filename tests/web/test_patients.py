"""Patient and examination routes: CRUD, paging newest first, refraction per eye, the examination
form PDF queued with the request's transaction, other companies' ids 404, bad input 422 naming
the field. Runs on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
from ils.errors import JobNotFound
from tests.web.conftest import Accounts, logged_in, make_client
from tests.web.helpers import fields, outbox_rows, outsider_admin
from tests.web.helpers import signed_in as _signed_in


def signed_in(app: FastAPI, role: Role = Role.optometrist) -> Any:
    return _signed_in(app, role)


EXAM: dict[str, Any] = {
    "right": {"sphere": "-2.25", "cylinder": "-0.50", "axis": 180, "acuity": "6/6"},
    "left": {"sphere": -2.0, "add": "1.25", "prism": "0.5", "prism_base": "in", "acuity": "6/9"},
    "pd": {"binocular": "63.5"},
    "notes": "Mild asthenopia.",
    "recall_due": "2099-01-01",
}


async def new_patient(client: httpx.AsyncClient, first: str, last: str = "Okafor") -> Any:
    response = await client.post("/api/patients", json={"first_name": first, "last_name": last})
    assert response.status_code == 201, response.text
    return response.json()


async def test_patients_are_created_listed_newest_first_and_updated(api: FastAPI):
    async with signed_in(api, Role.staff) as client:
        made = [await new_patient(client, name) for name in ("Ada", "Ben", "Cleo")]
        created = await client.post(
            "/api/patients",
            json={"first_name": " Dana ", "last_name": "Whitfield", "date_of_birth": "1984-02-29",
                  "phone": "+44 20 7946 0000", "notes": "Prefers"},
        )  # fmt: skip
        assert created.status_code == 201, created.text
        dana = created.json()
        assert dana["first_name"] == "Dana" and dana["date_of_birth"] == "1984-02-29"

        first = (await client.get("/api/patients", params={"limit": 2})).json()
        assert [p["first_name"] for p in first["items"]] == ["Dana", "Cleo"]
        assert (first["total"], first["limit"], first["offset"]) == (4, 2, 0)
        rest = (await client.get("/api/patients", params={"limit": 2, "offset": 2})).json()
        assert [p["id"] for p in rest["items"]] == [made[1]["id"], made[0]["id"]]
        found = (await client.get("/api/patients", params={"q": "dana whit"})).json()
        assert [p["id"] for p in found["items"]] == [dana["id"]]
        assert (await client.get("/api/patients", params={"q": "100%_"})).json()["total"] == 0

        url = f"/api/patients/{dana['id']}"
        assert (await client.get(url)).json() == dana
        patched = await client.patch(url, json={"phone": "0161 496 0000", "notes": None})
        assert patched.status_code == 200, patched.text
        body = patched.json()
        assert (body["phone"], body["notes"], body["last_name"]) == (
            "0161 496 0000", None, "Whitfield",
        )  # fmt: skip
        assert (await client.get(url)).json() == body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"last_name": "Okafor"}, "first_name"),
        ({"first_name": "  ", "last_name": "Okafor"}, "first_name"),
        ({"first_name": "A", "last_name": "x" * 101}, "last_name"),
        ({"first_name": "A", "last_name": "B", "email": "not-an-email"}, "email"),
        ({"first_name": "A", "last_name": "B", "date_of_birth": "2999-01-01"}, "date_of_birth"),
        ({"first_name": "A\x00", "last_name": "B"}, "first_name"),
        ({"first_name": "A", "last_name": "B", "shoe_size": 9}, "shoe_size"),
    ],
)
async def test_bad_patients_are_422_naming_the_field(
    api: FastAPI, body: dict[str, Any], field: str
):
    async with signed_in(api) as client:
        assert field in fields(await client.post("/api/patients", json=body))


async def test_patch_may_not_clear_a_name(api: FastAPI):
    async with signed_in(api) as client:
        patient = await new_patient(client, "Eve")
        response = await client.patch(f"/api/patients/{patient['id']}", json={"first_name": None})
        assert fields(response) == {"first_name"}


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 201}, {"offset": -1}, {"limit": "ten"}, {"q": ""}]
)
async def test_bad_paging_is_422_naming_the_parameter(api: FastAPI, params: dict[str, Any]):
    async with signed_in(api) as client:
        assert fields(await client.get("/api/patients", params=params)) == set(params)


async def test_examinations_record_the_refraction_of_each_eye(api: FastAPI, accounts: Accounts):
    async with signed_in(api) as client:
        patient = await new_patient(client, "Femi")
        url = f"/api/patients/{patient['id']}/examinations"
        first = await client.post(url, json={"examined_at": "2024-03-01T09:30:00Z"})
        assert first.status_code == 201, first.text
        created = await client.post(url, json=EXAM)
        assert created.status_code == 201, created.text
        exam = created.json()
        assert exam["patient_id"] == patient["id"]
        assert exam["examiner_user_id"] == accounts.by_role[Role.optometrist]
        assert exam["right"] == {
            "sphere": "-2.25", "cylinder": "-0.50", "axis": 180, "add": None, "prism": None,
            "prism_base": None, "acuity": "6/6",
        }  # fmt: skip
        assert exam["left"]["sphere"] == "-2.00" and exam["left"]["prism_base"] == "in"
        assert exam["pd"] == {"binocular": "63.50", "right": None, "left": None}
        assert (await client.get(f"/api/examinations/{exam['id']}")).json() == exam
        listed = (await client.get(url)).json()
        assert [e["id"] for e in listed["items"]] == [exam["id"], first.json()["id"]]
        assert listed["total"] == 2


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"right": {"axis": 181}}, "right.axis"),
        ({"left": {"axis": -1}}, "left.axis"),
        ({"right": {"cylinder": "-0.75"}}, "right.axis"),
        ({"left": {"prism": "1"}}, "left.prism_base"),
        ({"right": {"sphere": "-2.125"}}, "right.sphere"),
        ({"left": {"add": "-1"}}, "left.add"),
        ({"pd": {"binocular": 0}}, "pd.binocular"),
        ({"right": {"acuity": "x" * 13}}, "right.acuity"),
        ({"examined_at": "2024-03-01T09:30:00"}, "examined_at"),
        ({"examined_at": "2999-03-01T09:30:00Z"}, "examined_at"),
        ({"recall_due": "2000-01-01"}, "recall_due"),
        ({"right": {"colour": "blue"}}, "right.colour"),
    ],
)
async def test_bad_examinations_are_422_naming_the_field(
    api: FastAPI, change: dict[str, Any], field: str
):
    async with signed_in(api) as client:
        patient = await new_patient(client, "Gus")
        response = await client.post(f"/api/patients/{patient['id']}/examinations", json=change)
        assert field in fields(response)


async def test_the_examination_form_is_queued_when_the_request_commits(api: FastAPI):
    system: JobSystem = api.state.system
    async with signed_in(api) as client:
        patient = await new_patient(client, "Hana")
        exam = (await client.post(f"/api/patients/{patient['id']}/examinations", json=EXAM)).json()
        response = await client.post(f"/api/examinations/{exam['id']}/pdf")
    assert response.status_code == 202, response.text
    job = response.json()
    assert (job["queue"], job["name"]) == ("pdf", "examination-form")
    assert system.producer.relay is not None
    await system.producer.relay.wait_idle()
    await system.producer.relay.relay_pending()
    view = await system.admin.get_job("pdf", job["job_id"])
    assert view.data == {"examinationId": exam["id"]}


async def test_another_companys_patients_are_404(api: FastAPI):
    system: JobSystem = api.state.system
    async with signed_in(api) as client:
        patient = await new_patient(client, "Ines")
        exam_url = f"/api/patients/{patient['id']}/examinations"
        exam = (await client.post(exam_url, json=EXAM)).json()
    async with outsider_admin(api) as other:
        url = f"/api/patients/{patient['id']}"
        assert (await other.get(url)).status_code == 404
        assert (await other.patch(url, json={"notes": "mine now"})).status_code == 404
        assert (await other.get(exam_url)).status_code == 404
        # only optometrists record examinations: the role rule answers before the company rule
        assert (await other.post(exam_url, json=EXAM)).status_code == 403
        assert (await other.get(f"/api/examinations/{exam['id']}")).status_code == 404
        assert (await other.post(f"/api/examinations/{exam['id']}/pdf")).status_code == 404
        assert (await other.get("/api/patients")).json()["total"] == 0
    async with signed_in(api) as client:
        assert (await client.get(f"/api/patients/{patient['id']}")).json()["notes"] is None
        for missing in ("/api/patients/999999", "/api/examinations/999999"):
            assert (await client.get(missing)).status_code == 404
        assert fields(await client.get("/api/patients/99999999999")) == {"patient_id"}
    assert await outbox_rows(system) == 0
    with pytest.raises(JobNotFound):
        await system.admin.get_job("pdf", "1")


async def test_patients_need_a_login_and_cookie_writes_need_csrf(api: FastAPI):
    async with make_client(api) as anonymous:
        assert (await anonymous.get("/api/patients")).status_code == 401
    async with logged_in(api, Role.staff) as client:
        response = await client.post("/api/patients", json={"first_name": "A", "last_name": "B"})
        assert response.status_code == 403
