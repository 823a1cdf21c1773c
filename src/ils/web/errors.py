"""How errors become HTTP answers, in one table (:data:`ERRORS`): bad input is a 4xx with a JSON
``detail``, never a 500.

Every error raised on purpose descends from :class:`~ils.errors.IlsJobsError` (the job
system's and the domain services' alike) and maps by meaning: invalid payload or value 422, not
found 404, permission 403, conflict 409, broker down 503, a used-up quota 429, bad configuration
in a request 400. A database constraint is a 409, a value the database cannot hold a 422, a
database that is down or not migrated a 503. Request validation (FastAPI's own 422, and models a
route validates itself) lists ``loc``/``msg``/``type`` without echoing the rejected input.
Anything else is a bug: a 500 with a JSON body, logged with its traceback.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from sqlalchemy.exc import DataError, IntegrityError, OperationalError, ProgrammingError

from ils.errors import (
    BrokerUnavailable,
    ConfigurationError,
    Conflict,
    IlsJobsError,
    Invalid,
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


@dataclass(frozen=True)
class Answer:
    """The body of one error answer: ``detail``, headers, fields beside ``detail``; ``status``
    overrides the table's where the same class means two things."""

    detail: Any
    headers: dict[str, str] | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    status: int | None = None


#: Makes the answer to an error (the request is there for logging).
Describe = Callable[[Request, Exception], Answer]


def _message(_request: Request, exc: Exception) -> Answer:
    return Answer(str(exc) or type(exc).__name__)


def _field_errors(errors: Sequence[Mapping[str, Any]], prefix: Sequence[str | int] = ()) -> Any:
    """FastAPI's shape of field errors, without the rejected input or context (the value is not
    echoed: it may be a secret, patient data, or something JSON cannot carry, like infinity)."""
    return [
        {"loc": [*prefix, *e.get("loc", ())], "msg": str(e.get("msg", "")), "type": e.get("type")}
        for e in errors
    ]


def _request_invalid(_request: Request, exc: Exception) -> Answer:
    assert isinstance(exc, RequestValidationError)
    return Answer(_field_errors(exc.errors()))


def _model_invalid(_request: Request, exc: Exception) -> Answer:
    # A model validated by a route itself (not FastAPI's request parsing): still the caller's
    # input, so a 422 in FastAPI's shape rather than a 500.
    assert isinstance(exc, ValidationError)
    return Answer(_field_errors(exc.errors(include_url=False, include_input=False)))


def _value_invalid(_request: Request, exc: Exception) -> Answer:
    assert isinstance(exc, Invalid)
    error = {"loc": exc.loc, "msg": exc.message, "type": "value_error"}
    return Answer(_field_errors([error], ("body",)))


def _invalid_payload(_request: Request, exc: Exception) -> Answer:
    assert isinstance(exc, InvalidJobPayload)
    return Answer(str(exc), extra={"job": exc.job, "fields": exc.fields, "errors": exc.errors})


def _broker_unavailable(_request: Request, exc: Exception) -> Answer:
    log.warning("answering 503: %s", exc)
    retry = {"Retry-After": str(BROKER_RETRY_AFTER_S)}
    return Answer(f"the queue broker is unavailable: {exc}", retry)


def _quota_exceeded(_request: Request, exc: Exception) -> Answer:
    assert isinstance(exc, QuotaExceeded)
    quota = {"kind": exc.kind, "scope": exc.scope, "limit": exc.limit, "window_s": exc.window_s}
    return Answer(str(exc), {"Retry-After": str(exc.retry_after_s)}, {"quota": quota})


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


def _integrity(_request: Request, exc: Exception) -> Answer:
    assert isinstance(exc, IntegrityError)
    return Answer(integrity_message(exc))


def _data_error(_request: Request, _exc: Exception) -> Answer:
    # A value the database cannot hold (a number out of its column's range, say): the input's
    # fault, so a 422; the database's wording may quote values, so it is not passed on.
    return Answer("a value is out of the range the database can hold")


def _missing_table(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", exc)).lower()
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def _database_unavailable(request: Request, exc: Exception) -> Answer:
    # Not the caller's fault and not a bug in the route: the database is down, locked, or was
    # never migrated. The cause goes to the log only (it may hold SQL and values).
    if isinstance(exc, ProgrammingError) and not _missing_table(exc):
        return _unexpected(request, exc)
    log.error("%s %s: database unavailable: %s", request.method, request.url.path, exc)
    hint = " (or not migrated: run `ils db upgrade`)" if _missing_table(exc) else ""
    return Answer(f"the database is unavailable{hint}")


def _unexpected(request: Request, exc: Exception) -> Answer:
    log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
    return Answer("internal error", status=status.HTTP_500_INTERNAL_SERVER_ERROR)


#: The one table from exception class to HTTP status and body. The most specific class wins (as
#: in FastAPI): a subclass of IlsJobsError not listed here is a 500, like any other bug.
ERRORS: dict[type[Exception], tuple[int, Describe]] = {
    InvalidJobPayload: (status.HTTP_422_UNPROCESSABLE_CONTENT, _invalid_payload),
    Invalid: (status.HTTP_422_UNPROCESSABLE_CONTENT, _value_invalid),
    RequestValidationError: (status.HTTP_422_UNPROCESSABLE_CONTENT, _request_invalid),
    ValidationError: (status.HTTP_422_UNPROCESSABLE_CONTENT, _model_invalid),
    DataError: (status.HTTP_422_UNPROCESSABLE_CONTENT, _data_error),
    JobNotFound: (status.HTTP_404_NOT_FOUND, _message),
    UnknownJobType: (status.HTTP_404_NOT_FOUND, _message),
    PermissionDenied: (status.HTTP_403_FORBIDDEN, _message),
    JobStateConflict: (status.HTTP_409_CONFLICT, _message),
    Conflict: (status.HTTP_409_CONFLICT, _message),
    IntegrityError: (status.HTTP_409_CONFLICT, _integrity),
    ConfigurationError: (status.HTTP_400_BAD_REQUEST, _message),
    QuotaExceeded: (status.HTTP_429_TOO_MANY_REQUESTS, _quota_exceeded),
    BrokerUnavailable: (status.HTTP_503_SERVICE_UNAVAILABLE, _broker_unavailable),
    OperationalError: (status.HTTP_503_SERVICE_UNAVAILABLE, _database_unavailable),
    ProgrammingError: (status.HTTP_503_SERVICE_UNAVAILABLE, _database_unavailable),
    IlsJobsError: (status.HTTP_500_INTERNAL_SERVER_ERROR, _unexpected),
    Exception: (status.HTTP_500_INTERNAL_SERVER_ERROR, _unexpected),
}


def status_of(exc: BaseException) -> tuple[int, Describe]:
    """The table's row for ``exc``: its own class's, else its nearest listed base's."""
    for cls in type(exc).__mro__:
        if cls in ERRORS:
            return ERRORS[cls]
    return ERRORS[Exception]


async def answer(request: Request, exc: Exception) -> JSONResponse:
    """The HTTP answer to ``exc``, from :data:`ERRORS`."""
    status_code, describe = status_of(exc)
    out = describe(request, exc)
    return error_response(out.status or status_code, out.detail, out.headers, **out.extra)


def install_error_handlers(app: FastAPI) -> None:
    """Answer every class of :data:`ERRORS` on ``app`` from the table. Anything unlisted is a
    bug: still a JSON body with ``detail`` (Starlette re-raises it after answering, so it is
    logged with its traceback by the server too)."""
    for cls in ERRORS:
        app.add_exception_handler(cls, answer)
