"""Error mapping: each ILS Jobs error by meaning, constraints as 409, FastAPI's 422 kept.

Probe routes raise each error the way a real route would (through the producer, the admin, the
request's transaction), on SQLite and on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import select, text

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import CompanyKind
from ils.domain.models.accounts import Company
from ils.errors import BrokerUnavailable, InlineJobFailed, PermissionDenied
from ils.web.auth import DbSession
from ils.web.auth.schemas import LoginRequest
from tests.web.conftest import BASE_URL, Accounts, make_client


def add_probes(app: FastAPI) -> None:
    system: JobSystem = app.state.system

    @app.post("/probe/payload")
    async def payload() -> None:
        await system.producer.enqueue("pdf", "invoice", {"invoiceId": "not a number"})

    @app.post("/probe/unknown-type")
    async def unknown_type() -> None:
        await system.producer.enqueue("pdf", "no-such-job", {})

    @app.get("/probe/job")
    async def job() -> None:
        await system.admin.get_job("pdf", "missing")

    @app.get("/probe/queue-name")
    async def queue_name() -> None:
        system.admin.queue("pfd")

    @app.post("/probe/denied")
    async def denied() -> None:
        raise PermissionDenied("only platform and company admins may retry jobs")

    @app.get("/probe/broker")
    async def broker() -> None:
        raise BrokerUnavailable("Redis did not answer")

    @app.get("/probe/inline")
    async def inline() -> None:
        raise InlineJobFailed("pdf/invoice", RuntimeError("renderer crashed"))

    @app.post("/probe/duplicate/{when}")
    async def duplicate(when: str, session: DbSession) -> dict[str, str]:
        session.add(Company(name="Copy", slug="clear-sight", kind=CompanyKind.practice))
        if when == "flush":
            await session.flush()
        return {"stored": "no"}  # "commit": the conflict surfaces at commit, after this line

    @app.post("/probe/rollback")
    async def rollback(session: DbSession) -> None:
        session.add(Company(name="Half done", slug="half-done", kind=CompanyKind.lab))
        await session.flush()
        raise HTTPException(409, detail="changed my mind")

    @app.get("/probe/unmigrated")
    async def unmigrated(session: DbSession) -> None:
        await session.execute(text("SELECT id FROM no_such_table"))

    @app.get("/probe/bug")
    async def bug() -> None:
        raise RuntimeError("a bug in a route")

    @app.get("/probe/model")
    async def model() -> None:
        LoginRequest.model_validate({"email": "a@a.localhost"})

    @app.get("/probe/items/{n}")
    async def items(n: int) -> dict[str, int]:
        return {"n": n}


@pytest.fixture
async def probe(app: FastAPI, accounts: Accounts) -> AsyncIterator[httpx.AsyncClient]:
    add_probes(app)
    async with make_client(app) as client:
        yield client


async def test_an_invalid_job_payload_is_a_422_naming_the_field(probe: httpx.AsyncClient):
    response = await probe.post("/probe/payload")
    assert response.status_code == 422
    body = response.json()
    assert body["fields"] == ["invoice_id"] and "invoice_id" in body["detail"]
    assert body["job"] == "pdf/invoice"


@pytest.mark.parametrize(
    ("method", "path", "code", "words"),
    [
        ("post", "/probe/unknown-type", 404, "no-such-job"),
        ("get", "/probe/job", 404, "missing"),
        ("get", "/probe/queue-name", 400, "did you mean 'pdf'"),
        ("post", "/probe/denied", 403, "only platform"),
        ("get", "/probe/broker", 503, "unavailable"),
    ],
)
async def test_ils_errors_map_by_meaning(
    probe: httpx.AsyncClient, method: str, path: str, code: int, words: str
):
    response = await probe.request(method.upper(), path)
    assert response.status_code == code
    assert words in response.json()["detail"]
    if code == 503:
        assert response.headers["retry-after"] == "5"


async def test_an_unexpected_ils_error_is_a_json_500_without_internals(
    probe: httpx.AsyncClient,
):
    response = await probe.get("/probe/inline")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}


async def test_a_database_without_its_tables_is_a_503_saying_to_migrate(
    probe: httpx.AsyncClient,
):
    response = await probe.get("/probe/unmigrated")
    assert response.status_code == 503
    assert response.json() == {
        "detail": "the database is unavailable (or not migrated: run `ils db upgrade`)"
    }


async def test_a_bug_is_a_json_500(app: FastAPI, accounts: Accounts):
    add_probes(app)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as client:
        response = await client.get("/probe/bug")
    assert response.status_code == 500
    assert response.json() == {"detail": "internal error"}


@pytest.mark.parametrize("when", ["flush", "commit"])
async def test_a_unique_violation_is_a_409_whether_at_flush_or_at_commit(
    probe: httpx.AsyncClient, db: Database, when: str
):
    response = await probe.post(f"/probe/duplicate/{when}")
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail.startswith("conflict: a record with the same unique value already exists")
    assert "slug" in detail and "clear-sight" not in detail  # names the rule, not the row
    async with db.session() as s:
        slugs = (await s.scalars(select(Company.slug))).all()
    assert sorted(slugs) == ["clear-sight", "prism-lab"]


async def test_a_failing_request_rolls_its_transaction_back(probe: httpx.AsyncClient, db: Database):
    assert (await probe.post("/probe/rollback")).status_code == 409
    async with db.session() as s:
        assert (await s.scalars(select(Company).where(Company.slug == "half-done"))).all() == []


async def test_validation_errors_are_422s_with_field_locations(probe: httpx.AsyncClient):
    path_error = await probe.get("/probe/items/seven")
    assert path_error.status_code == 422
    assert path_error.json()["detail"][0]["loc"] == ["path", "n"]
    model_error = await probe.get("/probe/model")
    assert model_error.status_code == 422
    assert model_error.json()["detail"][0]["loc"] == ["password"]


async def test_a_value_the_database_cannot_hold_is_a_422_not_a_500():
    from fastapi import FastAPI
    from httpx import ASGITransport, AsyncClient
    from sqlalchemy.exc import DataError

    from ils.web.errors import install_error_handlers

    app = FastAPI()
    install_error_handlers(app)

    @app.get("/overflow")
    async def overflow() -> None:
        raise DataError("UPDATE products SET stock = ...", {}, Exception("out of range"))

    async with AsyncClient(transport=ASGITransport(app=app), base_url="http://localhost") as c:
        response = await c.get("/overflow")
    assert response.status_code == 422
    assert "out of the range" in response.json()["detail"]
    assert "UPDATE" not in response.text
