"""The document row of a PDF job: one upsert on the job's id, so a job that runs again (a retry,
a redelivery) brings its row up to date instead of adding one, with its ``document.generated``
event. The rows of the jobs a process finishes at once are written in one transaction
(:class:`DocumentRows`, on :class:`~ils.jobs.coalesce.Coalescer`): on SQLite, whose one
connection a process's transactions queue for, the row was the path's slowest step. Imported by
the first PDF job."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.db import Database, upsert_by_job
from ils.domain.enums import ENTITY_OF, DocumentType
from ils.domain.models import Document
from ils.domain.models.types import utcnow
from ils.events.emit_jobs import document_generated
from ils.files import StoredFile, safe_name
from ils.jobs.coalesce import Coalescer, PerObject

if TYPE_CHECKING:
    from ils.jobs.pdf.load import Loaded


def download_name(doc_type: DocumentType, reference: str) -> str:
    """What a browser saves the file as, e.g. ``invoice-INV-000042.pdf``."""
    return f"{doc_type.value}-{safe_name(reference)}.pdf"


RECORDED = ("company_id", "type", "entity", "entity_id", "path", "filename", "size", "sha256",
            "created_at")  # fmt: skip


@functools.cache
def _upsert(dialect: str) -> Any:
    """The row's upsert for ``dialect``, built once."""
    return upsert_by_job(dialect, Document, RECORDED)


def row_params(
    doc_type: DocumentType, loaded: Loaded, stored: StoredFile, job_id: str
) -> dict[str, Any]:
    """The document row's values (the upsert's parameters)."""
    return {
        "job_id": job_id,
        "company_id": loaded.company_id,
        "type": doc_type,
        "entity": ENTITY_OF[doc_type],
        "entity_id": loaded.entity_id,
        "path": stored.key,
        "filename": download_name(doc_type, loaded.reference),
        "size": stored.size,
        "sha256": stored.sha256,
        "created_at": utcnow(),
    }


async def _write(db: Database, session: AsyncSession, params: dict[str, Any]) -> int:
    document_id: int = (await session.execute(_upsert(db.dialect), params)).scalar_one()
    await document_generated(session, document_id, params)
    return document_id


async def record(
    db: Database, doc_type: DocumentType, loaded: Loaded, stored: StoredFile, job_id: str
) -> int:
    """The job's document row, inserted or (when the job ran before) brought up to date, with its
    ``document.generated`` event (once per job) in the same transaction; in one transaction with
    the rows of the other PDF jobs this process finishes meanwhile (:func:`rows_for`)."""
    return await rows_for(db).record(row_params(doc_type, loaded, stored, job_id))


class DocumentRows:
    """One database's document rows, the rows of jobs that finish at once written together."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._rows: Coalescer[dict[str, Any], int] = Coalescer(self._write)

    async def record(self, params: dict[str, Any]) -> int:
        return await self._rows(params)

    async def _write(self, batch: list[dict[str, Any]]) -> Sequence[int | BaseException]:
        try:
            async with self.db.session() as session:
                return [await _write(self.db, session, params) for params in batch]
        except Exception:
            if len(batch) == 1:
                raise
        # One bad row (its company gone meanwhile) must not fail the others: each alone.
        return await asyncio.gather(*(self._alone(p) for p in batch), return_exceptions=True)

    async def _alone(self, params: dict[str, Any]) -> int:
        async with self.db.session() as session:
            return await _write(self.db, session, params)


#: The document rows of a database in this process (made at its first PDF job).
rows_for: PerObject[Database, DocumentRows] = PerObject(DocumentRows)
