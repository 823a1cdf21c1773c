"""OMA (DCS) lab files: one row per ``process-oma-file`` job, linked to its company and order,
with the original's storage key and checksum, the parsed Rx, frame and traces, the derived
measures, the validation issues and the trace's SVG once rendered.

The job id is unique: a job that runs again (a retry, a redelivery) brings its row up to date
instead of adding one.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ils.domain.base import Base
from ils.domain.models.shared import CompanyOwned
from ils.domain.models.types import UtcDateTime, utcnow

#: ``status`` of a stored file: no issue at all, or warnings only (a file with errors is refused).
OMA_VALID = "valid"
OMA_WARNINGS = "warnings"


class OmaFile(CompanyOwned, Base):
    __tablename__ = "oma_files"
    __table_args__ = (Index("ix_oma_files_order", "order_id", "created_at"),)

    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    # The file's JOB record (the lab's job reference), when it has one.
    job_ref: Mapped[str | None] = mapped_column(String(80))
    filename: Mapped[str] = mapped_column(String(200))
    # The original bytes, relative to the file storage's root: ``<company>/oma/<name>.oma``.
    path: Mapped[str] = mapped_column(String(500))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(20))
    # {"rx": {"right": {...}, "left": {...}}, "frame": {...}, "derived": {...}, "checks": [...]}
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # {"right": {"radii": [...], "angles": [...]}, "left": ...}: the sides the file traces.
    traces: Mapped[dict[str, Any]] = mapped_column(JSON)
    issues: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    svg_path: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime(), default=utcnow)
