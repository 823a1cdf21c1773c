"""Generated documents: ``GET /api/documents/{id}`` streams a PDF, and each entity lists its own
(``/api/orders/{id}/documents``, ``/api/invoices/{id}/documents`` with the receipts of its
payments, ``/api/examinations/{id}/documents``).

Only the owning company sees a document: another company's ids answer 404, like missing ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, HTTPException, Request, status
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import (
    Document,
    DocumentEntity,
    DocumentType,
    Examination,
    Invoice,
    Order,
    Payment,
)
from ils.domain.services import Id
from ils.files import FileStorage, StoredFileMissing
from ils.web.auth import CurrentUser, DbSession, ensure, get_owned, permit
from ils.web.auth.policy import DOCUMENT_READ
from ils.web.errors import ErrorOut

router = APIRouter(tags=["documents"])

RowId = Id
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorOut}}
CHUNK = 64 * 1024


class DocumentOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    type: DocumentType
    entity: DocumentEntity
    entity_id: int
    filename: str
    size: int
    sha256: str
    job_id: str
    created_at: dt.datetime


def _files(request: Request) -> FileStorage:
    files: FileStorage = request.app.state.system.files
    return files


async def _listed(session: AsyncSession, company_id: int, *where: Any) -> Sequence[Document]:
    query = (
        select(Document)
        .where(Document.company_id == company_id, or_(*where))
        .order_by(Document.created_at.desc(), Document.id.desc())
    )
    return (await session.scalars(query)).all()


@router.get(
    "/api/documents/{document_id}",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/pdf": {}}}, **NOT_FOUND},
    summary="Download a generated document (PDF)",
)
async def download(
    document_id: RowId, request: Request, user: CurrentUser, session: DbSession
) -> StreamingResponse:
    row = await get_owned(session, Document, document_id, user)
    ensure(user, DOCUMENT_READ[row.entity])  # a PDF is as private as the row it shows
    try:
        fh = _files(request).open(row.path)
    except StoredFileMissing as exc:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, detail=f"Document {document_id} has no file"
        ) from exc

    def chunks() -> Iterator[bytes]:
        with fh:
            yield from iter(lambda: fh.read(CHUNK), b"")

    headers = {
        "Content-Disposition": f'attachment; filename="{row.filename}"',
        "Content-Length": str(row.size),
    }
    return StreamingResponse(chunks(), media_type="application/pdf", headers=headers)


@router.get(
    "/api/orders/{order_id}/documents",
    response_model=list[DocumentOut],
    responses=NOT_FOUND,
    summary="An order's documents (order sheets, lab work tickets), newest first",
    dependencies=[permit("orders.read")],
)
async def order_documents(
    order_id: RowId, user: CurrentUser, session: DbSession
) -> Sequence[Document]:
    order = await get_owned(session, Order, order_id, user)
    on_order = and_(Document.entity == DocumentEntity.order, Document.entity_id == order.id)
    return await _listed(session, order.company_id, on_order)


@router.get(
    "/api/invoices/{invoice_id}/documents",
    response_model=list[DocumentOut],
    responses=NOT_FOUND,
    summary="An invoice's documents and the receipts of its payments, newest first",
    dependencies=[permit("invoices.read")],
)
async def invoice_documents(
    invoice_id: RowId, user: CurrentUser, session: DbSession
) -> Sequence[Document]:
    invoice = await get_owned(session, Invoice, invoice_id, user)
    payments = select(Payment.id).where(Payment.invoice_id == invoice.id).scalar_subquery()
    return await _listed(
        session,
        invoice.company_id,
        and_(Document.entity == DocumentEntity.invoice, Document.entity_id == invoice.id),
        and_(Document.entity == DocumentEntity.payment, Document.entity_id.in_(payments)),
    )


@router.get(
    "/api/examinations/{examination_id}/documents",
    response_model=list[DocumentOut],
    responses=NOT_FOUND,
    summary="An examination's documents (examination forms), newest first",
    dependencies=[permit("examinations.read")],
)
async def examination_documents(
    examination_id: RowId, user: CurrentUser, session: DbSession
) -> Sequence[Document]:
    exam = await get_owned(session, Examination, examination_id, user)
    on_exam = and_(Document.entity == DocumentEntity.examination, Document.entity_id == exam.id)
    return await _listed(session, exam.company_id, on_exam)
