"""The one table from error to HTTP answer (ils.web.errors.ERRORS): the job system's errors, the
domain services' and request validation answer from it, each class by its nearest listed base."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from ils.errors import (
    Conflict,
    DomainError,
    IlsJobsError,
    InlineJobFailed,
    Invalid,
    JobNotFound,
    PermissionDenied,
)
from ils.web.errors import ERRORS, install_error_handlers, status_of


class StaleJob(JobNotFound):
    """A subclass the table does not list: it answers as its base does."""


#: What each probe path raises, as a route would.
RAISED: dict[str, Exception] = {
    "conflict": Conflict("purchase order 7 was sent already"),
    "invalid": Invalid(("lines", 0, "product_id"), "not a product of this company"),
    "denied": PermissionDenied("pausing a queue acts on every company's jobs"),
    "stale": StaleJob("job 9 was cleaned"),
}


def app_raising() -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/raise/{what}")
    async def raise_(what: str) -> None:
        raise RAISED[what]

    @app.get("/number/{n}")
    async def number(n: int) -> int:
        return n

    return app


@pytest.mark.parametrize(
    ("path", "code", "detail"),
    [
        ("/raise/conflict", 409, "purchase order 7 was sent already"),
        ("/raise/denied", 403, "pausing a queue acts on every company's jobs"),
        ("/raise/stale", 404, "job 9 was cleaned"),
        ("/raise/invalid", 422, [{"loc": ["body", "lines", 0, "product_id"],
                           "msg": "not a product of this company", "type": "value_error"}]),
    ],
)  # fmt: skip
async def test_each_error_answers_from_the_table(path: str, code: int, detail: object):
    transport = httpx.ASGITransport(app=app_raising())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        response = await client.get(path)
    assert (response.status_code, response.json()) == (code, {"detail": detail})


async def test_request_validation_does_not_echo_the_input():
    transport = httpx.ASGITransport(app=app_raising())
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as client:
        response = await client.get("/number/secret-value")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["path", "n"]
    assert "secret-value" not in response.text


def test_domain_errors_are_part_of_the_one_hierarchy():
    assert issubclass(DomainError, IlsJobsError)
    assert status_of(Conflict("x"))[0] == 409 and status_of(Invalid("f", "m"))[0] == 422
    # Raised on purpose but never the caller's fault: a 500, as any bug.
    assert status_of(InlineJobFailed("pdf/invoice", RuntimeError("boom")))[0] == 500
    assert ERRORS[IlsJobsError][0] == 500 and ERRORS[Exception][0] == 500
