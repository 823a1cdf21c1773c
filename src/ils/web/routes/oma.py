"""An order's OMA (DCS) lab file: upload one (``POST /api/orders/{id}/oma``, multipart, read for
at most :data:`MAX_OMA_BYTES` then refused), download the newest original or the file
regenerated from the order (``GET .../oma``), and its trace as SVG (``GET .../oma/trace.svg``).

An upload is checked as far as a request may (its size, that it parses), then handed to the
``process-oma-file`` job in the request's transaction (the outbox); validation, storage and the
owner's notifications are the job's. Another company's order is a 404 like a missing one.
"""

# No ``from __future__ import annotations``: FastAPI reads the endpoints' annotations.

import base64
from typing import Annotated

from fastapi import APIRouter, File, HTTPException, Query, Request, UploadFile, status
from fastapi.responses import Response
from pydantic import BaseModel

from ils.domain.models import Order
from ils.domain.services import Id
from ils.files import FileStorage, StoredFileMissing, safe_name
from ils.jobs.oma.handlers import MAX_OMA_BYTES, process_oma_file
from ils.oma import OmaError, parse
from ils.web.auth import CurrentUser, DbSession, get_owned, permit
from ils.web.errors import ErrorOut
from ils.web.quota_deps import OrderQuota
from ils.web.routes.common import Responses

router = APIRouter(tags=["oma"])

OMA_MEDIA_TYPE = "application/x-oma"
CHUNK = 64 * 1024
ERRORS: Responses = {code: {"model": ErrorOut} for code in (404, 413, 422)}


class OmaUploadOut(BaseModel):
    order_id: int
    job_id: str
    size: int


def _files(request: Request) -> FileStorage:
    files: FileStorage = request.app.state.system.files
    return files


async def read_capped(upload: UploadFile, limit: int) -> bytes:
    """The upload's bytes, read in chunks and refused (413 naming ``file``) past ``limit``."""
    parts: list[bytes] = []
    size = 0
    while chunk := await upload.read(CHUNK):
        size += len(chunk)
        if size > limit:
            raise HTTPException(
                status.HTTP_413_CONTENT_TOO_LARGE,
                detail=f"file: an OMA file may hold at most {limit} bytes",
            )
        parts.append(chunk)
    return b"".join(parts)


@router.post(
    "/api/orders/{order_id}/oma",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Upload an OMA lab file for an order",
    responses=ERRORS,
    dependencies=[permit("orders.create")],
)
async def upload_oma(
    order_id: Id,
    file: Annotated[UploadFile, File(description="the DCS file")],
    user: CurrentUser,
    _quota: OrderQuota,
    session: DbSession,
) -> OmaUploadOut:
    """The file is processed by the ``process-oma-file`` job: stored with the order, its owner
    told of the outcome (each validation error included). A file that does not parse is a 422
    naming its line and label."""
    order = await get_owned(session, Order, order_id, user)
    data = await read_capped(file, MAX_OMA_BYTES)
    if not data:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail="file: empty")
    try:
        parse(data)
    except OmaError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=f"file: {exc}") from None
    name = safe_name(file.filename or "upload.oma")[:200]
    enqueued = await process_oma_file.helper.using(session=session, company_id=order.company_id)(
        company_id=order.company_id, order_id=order.id, filename=name, user_id=user.id,
        content=base64.b64encode(data).decode(),
    )  # fmt: skip
    return OmaUploadOut(order_id=order.id, job_id=enqueued.job_id, size=len(data))


def _attachment(data: bytes, name: str, media_type: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{name}"'}
    return Response(data, media_type=media_type, headers=headers)


def _stored(files: FileStorage, key: str, what: str) -> bytes:
    try:
        with files.open(key) as fh:
            return fh.read()
    except StoredFileMissing as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"{what} has no file") from exc


@router.get(
    "/api/orders/{order_id}/oma",
    response_class=Response,
    responses={200: {"content": {OMA_MEDIA_TYPE: {}}}, **ERRORS},
    summary="Download an order's OMA file",
    dependencies=[permit("orders.read")],
)
async def download_oma(
    order_id: Id,
    request: Request,
    user: CurrentUser,
    session: DbSession,
    regenerated: Annotated[bool, Query(description="written from the order instead")] = False,
) -> Response:
    """The newest uploaded original, byte for byte; with ``regenerated=true`` the file written
    from the order's Rx and frame and the newest file's trace (as ``export-oma-file`` does)."""
    from ils.jobs.oma import export, store

    order = await get_owned(session, Order, order_id, user)
    files = _files(request)
    name = safe_name(order.number)
    if regenerated:
        _, data = await export.regenerate(session, order.company_id, order.id)
        return _attachment(data, f"{name}.oma", OMA_MEDIA_TYPE)
    latest = await store.latest_for_order(session, order.id)
    if latest is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"Order {order_id} has no OMA file")
    return _attachment(_stored(files, latest.path, "OMA file"), latest.filename, OMA_MEDIA_TYPE)


@router.get(
    "/api/orders/{order_id}/oma/trace.svg",
    response_class=Response,
    responses={200: {"content": {"image/svg+xml": {}}}, **ERRORS},
    summary="The trace of an order's newest OMA file, as SVG",
    dependencies=[permit("orders.read")],
)
async def trace_svg(
    order_id: Id, request: Request, user: CurrentUser, session: DbSession
) -> Response:
    from ils.jobs.oma import store

    order = await get_owned(session, Order, order_id, user)
    latest = await store.latest_for_order(session, order.id)
    if latest is None or latest.svg_path is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"Order {order_id} has no trace drawn"
        )
    svg = _stored(_files(request), latest.svg_path, "trace")
    # An SVG may carry script: served as an image that runs nothing, never inline as a page.
    headers = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
               "X-Content-Type-Options": "nosniff"}  # fmt: skip
    return Response(svg, media_type="image/svg+xml", headers=headers)
