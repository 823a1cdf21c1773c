"""The document row of a PDF job: one upsert on the job's id, so a job that runs again (a retry,
a redelivery) brings its row up to date instead of adding one. Imported by the first PDF job."""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam

from ils.domain.db import Database, conflict_insert
from ils.domain.enums import ENTITY_OF, DocumentType
from ils.domain.models import Document
from ils.domain.models.types import utcnow
from ils.events.emit_jobs import document_generated
from ils.files import StoredFile, safe_name

if TYPE_CHECKING:
    from ils.jobs.pdf.load import Loaded


def download_name(doc_type: DocumentType, reference: str) -> str:
    """What a browser saves the file as, e.g. ``invoice-INV-000042.pdf``."""
    return f"{doc_type.value}-{safe_name(reference)}.pdf"


RECORDED = ("company_id", "type", "entity", "entity_id", "path", "filename", "size", "sha256",
            "created_at")  # fmt: skip


@functools.cache
def _upsert(dialect: str) -> Any:
    """The document row's upsert for ``dialect``, built once: insert, or bring up to date the row
    an earlier run of the job left (one statement either way)."""
    insert = conflict_insert(dialect)
    statement = insert(Document).values(
        job_id=bindparam("job_id"), **{name: bindparam(name) for name in RECORDED}
    )
    return statement.on_conflict_do_update(
        index_elements=[Document.job_id],
        set_={name: statement.excluded[name] for name in RECORDED},
    ).returning(Document.id)


async def record(
    db: Database, doc_type: DocumentType, loaded: Loaded, stored: StoredFile, job_id: str
) -> int:
    """The job's document row, inserted or (when the job ran before) brought up to date, with its
    ``document.generated`` event (once per job) in the same transaction."""
    params = {
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
    async with db.session() as session:
        document_id: int = (
            await session.execute(_upsert(db.engine.dialect.name), params)
        ).scalar_one()
        await document_generated(session, document_id, params)
    return document_id
