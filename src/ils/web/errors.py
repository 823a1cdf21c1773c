"""How errors become HTTP answers: bad input is a 4xx with a JSON ``detail``, never a 500.

Each ILS Jobs error maps by meaning (invalid payload 422, not found 404, permission 403, broker
down 503, bad configuration in a request 400); a database constraint is a 409, a database that
is down or not migrated a 503. FastAPI's own 422 for request validation is kept as it is.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

from ils.queue.errors import (
    BrokerUnavailable,
    ConfigurationError,
    IlsJobsError,
    InvalidJobPayload,
    JobNotFound,
    JobStateConflict,
    PermissionDenied,
    UnknownJobType,
)
from ils.web.quotas import QuotaExceeded

log = logging.getLogger(__name__)

# Seconds a client should wait before retrying while Redis is unreachable.
BROKER_RETRY_AFTER_S = 5


class ErrorOut(BaseModel):
    """The body of every error answer."""

    detail: Any = Field(description="what went wrong: a message, or a list of field errors")


def error_response(
    status_code: int, detail: Any, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"detail": detail, **extra}, status_code=status_code, headers=headers)


async def _invalid_payload(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, InvalidJobPayload)
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        str(exc),
        job=exc.job,
        fields=exc.fields,
        errors=exc.errors,
    )


Handler = Callable[[Request, Exception], Awaitable[JSONResponse]]


def _simple(status_code: int, headers: dict[str, str] | None = None) -> Handler:
    async def handler(_request: Request, exc: Exception) -> JSONResponse:
        return error_response(status_code, str(exc) or type(exc).__name__, headers)

    return handler


async def _broker_unavailable(_request: Request, exc: Exception) -> JSONResponse:
    log.warning("answering 503: %s", exc)
    return error_response(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        f"the queue broker is unavailable: {exc}",
        {"Retry-After": str(BROKER_RETRY_AFTER_S)},
    )


def integrity_message(exc: IntegrityError) -> str:
    """A message for a constraint violation that names no SQL and leaks no row data."""
    text = str(exc.orig).lower()
    if "unique" in text or "duplicate key" in text:
        # The constraint or column's name only: PostgreSQL's DETAIL line holds the row's values.
        found = re.search(r'unique constraint (?:failed: ([\w.]+)|"(\w+)")', text)
        what = f" ({found.group(1) or found.group(2)})" if found else ""
        return f"conflict: a record with the same unique value already exists{what}"
    if "foreign key" in text:
        return "conflict: the request refers to a record that does not exist or is still in use"
    if "not null" in text or "null value" in text:
        return "conflict: a required value is missing"
    return "conflict: the change violates a database constraint"


async def _quota_exceeded(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, QuotaExceeded)
    quota = {"kind": exc.kind, "scope": exc.scope, "limit": exc.limit, "window_s": exc.window_s}
    return error_response(
        status.HTTP_429_TOO_MANY_REQUESTS,
        str(exc),
        {"Retry-After": str(exc.retry_after_s)},
        quota=quota,
    )


async def _integrity(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, IntegrityError)
    return error_response(status.HTTP_409_CONFLICT, integrity_message(exc))


def _missing_table(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


async def _data_error(_request: Request, exc: Exception) -> JSONResponse:
    # A value the database cannot hold (a number out of its column's range, say): the input's
    # fault, so a 422; the database's wording may quote values, so it is not passed on.
    return error_response(
        status.HTTP_422_UNPROCESSABLE_CONTENT, "a value is out of the range the database can hold"
    )


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    # Not the caller's fault and not a bug in the route: the database is down, locked, or was
    # never migrated. The cause goes to the log only (it may hold SQL and values).
    if isinstance(exc, ProgrammingError) and not _missing_table(exc):
        return await _unexpected(request, exc)
    log.error("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    hint = " (or not migrated: run `ils db upgrade`)" if _missing_table(exc) else ""
    return error_response(status.HTTP_503_SERVICE_UNAVAILABLE, f"the database is unavailable{hint}")


async def _pydantic(_request: Request, exc: Exception) -> JSONResponse:
    # A model validated by a route itself (not FastAPI's request parsing): still the caller's
    # input, so a 422 in FastAPI's shape rather than a 500.
    assert isinstance(exc, ValidationError)
    errors = [
        {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]}
        for e in exc.errors(include_url=False, include_input=False)
    ]
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, errors)


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return error_response(status.HTTP_500_INTERNAL_SERVER_ERROR, "internal error")


def install_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app`` (the most specific class wins, as in FastAPI)."""
    app.add_exception_handler(InvalidJobPayload, _invalid_payload)
    app.add_exception_handler(JobNotFound, _simple(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(JobStateConflict, _simple(status.HTTP_409_CONFLICT))
    app.add_exception_handler(UnknownJobType, _simple(status.HTTP_404_NOT_FOUND))
    app.add_exception_handler(PermissionDenied, _simple(status.HTTP_403_FORBIDDEN))
    app.add_exception_handler(BrokerUnavailable, _broker_unavailable)
    app.add_exception_handler(ConfigurationError, _simple(status.HTTP_400_BAD_REQUEST))
    app.add_exception_handler(QuotaExceeded, _quota_exceeded)
    app.add_exception_handler(IntegrityError, _integrity)
    app.add_exception_handler(DataError, _data_error)
    app.add_exception_handler(OperationalError, _database_unavailable)
    app.add_exception_handler(ProgrammingError, _database_unavailable)
    app.add_exception_handler(ValidationError, _pydantic)
    app.add_exception_handler(IlsJobsError, _unexpected)
    # Anything else is a bug: still a JSON body with ``detail`` (Starlette re-raises it after
    # answering, so it is logged with its traceback by the server too).
    app.add_exception_handler(Exception, _unexpected)
