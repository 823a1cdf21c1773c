"""Generated documents: ``GET /api/documents/{id}`` streams a PDF, and each entity lists its own
(``/api/orders/{id}/documents``, ``/api/invoices/{id}/documents`` with the receipts of its
payments, ``/api/examinations/{id}/documents``).

Only the owning company sees a document: another company's ids answer 404, like missing ones.
"""

# No ``from __future__ import annotations``: the list routes' endpoints are annotated with a type
# built when each is added, and FastAPI reads those annotations from the function.

import datetime as dt
from collections.abc import Callable, Iterator, Sequence
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
from ils.web.routes.common import NOT_FOUND, row_id_param

router = APIRouter(tags=["documents"])

RowId = Id
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


def _add_list(path: str, model: type[Any], action: str) -> Callable[..., Any]:
    """A decorator: ``GET path`` (``.../{<row>_id}/documents``) lists, newest first, the
    documents the decorated function selects (``(row) -> where clauses``) of the ``model`` row
    the path names. The function's name is the operation's, its docstring the summary."""

    def register(where: Callable[[Any], Sequence[Any]]) -> Callable[[Any], Sequence[Any]]:
        row_id = row_id_param(path.split("{")[1].split("}")[0])

        async def endpoint(row_id: row_id, user: CurrentUser, session: DbSession) -> Any:  # type: ignore[valid-type]
            row = await get_owned(session, model, row_id, user)
            return await _listed(session, row.company_id, *where(row))

        router.add_api_route(
            path,
            endpoint,
            methods=["GET"],
            name=where.__name__,
            response_model=list[DocumentOut],
            responses=NOT_FOUND,
            summary=where.__doc__,
            dependencies=[permit(action)],
        )
        return where

    return register


@_add_list("/api/orders/{order_id}/documents", Order, "orders.read")
def order_documents(order: Order) -> Sequence[Any]:
    """An order's documents (order sheets, lab work tickets), newest first"""
    return [and_(Document.entity == DocumentEntity.order, Document.entity_id == order.id)]


@_add_list("/api/invoices/{invoice_id}/documents", Invoice, "invoices.read")
def invoice_documents(invoice: Invoice) -> Sequence[Any]:
    """An invoice's documents and the receipts of its payments, newest first"""
    payments = select(Payment.id).where(Payment.invoice_id == invoice.id).scalar_subquery()
    return [
        and_(Document.entity == DocumentEntity.invoice, Document.entity_id == invoice.id),
        and_(Document.entity == DocumentEntity.payment, Document.entity_id.in_(payments)),
    ]


@_add_list("/api/examinations/{examination_id}/documents", Examination, "examinations.read")
def examination_documents(exam: Examination) -> Sequence[Any]:
    """An examination's documents (examination forms), newest first"""
    return [and_(Document.entity == DocumentEntity.examination, Document.entity_id == exam.id)]
