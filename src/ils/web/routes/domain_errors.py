"""How the domain services' errors become HTTP answers: a conflict is a 409 with a message, an
invalid value a 422 in FastAPI's own shape (``detail`` lists ``loc``/``msg``/``type``)."""

from __future__ import annotations

from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse

from ils.domain.services.errors import Conflict, Invalid
from ils.web.errors import error_response


async def _conflict(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Conflict)
    return error_response(status.HTTP_409_CONFLICT, str(exc))


async def _invalid(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, Invalid)
    detail = [{"loc": ["body", *exc.loc], "msg": exc.message, "type": "value_error"}]
    return error_response(status.HTTP_422_UNPROCESSABLE_CONTENT, detail)


def install_domain_error_handlers(app: FastAPI) -> None:
    """Register the handlers on ``app``; call it before the app serves its first request."""
    app.add_exception_handler(Conflict, _conflict)
    app.add_exception_handler(Invalid, _invalid)
