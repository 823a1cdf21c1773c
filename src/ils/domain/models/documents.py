"""Generated documents (PDFs): which company owns each, what it shows, where its file lies.

One row per job (the job id is unique): a job that runs again replaces its file and row, so
retries and redeliveries never add a second document.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.enums import DocumentEntity, DocumentType
from ils.domain.models.columns import str_enum
from ils.domain.models.shared import CompanyOwned
from ils.domain.models.types import UtcDateTime, utcnow


class Document(CompanyOwned, Base):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_entity", "company_id", "entity", "entity_id"),)

    type: Mapped[DocumentType] = mapped_column(str_enum(DocumentType, 30))
    entity: Mapped[DocumentEntity] = mapped_column(str_enum(DocumentEntity, 20))
    entity_id: Mapped[int] = mapped_column(Integer)
    # Relative to the file storage's root, e.g. ``3/invoice/INV-000042-<job id>.pdf``.
    path: Mapped[str] = mapped_column(String(500))
    filename: Mapped[str] = mapped_column(String(200))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
