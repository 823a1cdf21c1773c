"""The document rows of PDF jobs that finish at once (:mod:`ils.jobs.pdf.record`): written in one
transaction, each with its own id and its ``document.generated`` event, on SQLite and PostgreSQL;
a row that cannot be written fails its own job, not the others of its transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, func, select

from ils.domain.db import Database
from ils.domain.models import Document, DocumentType
from ils.domain.models.events import Event
from ils.errors import InvalidEventData
from ils.files import StoredFile
from ils.jobs.pdf.load import Loaded
from ils.jobs.pdf.record import DocumentRows, row_params
from tests.support.pdf_world import PdfWorld, make_pdf_world


def params(world: PdfWorld, n: int, entity_id: object = None) -> dict[str, object]:
    loaded = Loaded(None, world.lab_id, world.payment_id, f"RCT-{n:06d}")  # type: ignore[arg-type]
    stored = StoredFile(key=f"{world.lab_id}/receipt/rct-{n}.pdf", size=100 + n, sha256="ab" * 32)
    values = row_params(DocumentType.receipt, loaded, stored, f"pdf-job-{n}")
    if entity_id is not None:
        values["entity_id"] = entity_id
    return values


async def counted(db: Database) -> tuple[int, int]:
    async with db.session() as session:
        documents = await session.scalar(select(func.count()).select_from(Document))
        events = await session.scalar(
            select(func.count()).select_from(Event).where(Event.type == "document.generated")
        )
    return int(documents or 0), int(events or 0)


async def test_rows_of_jobs_finishing_at_once_share_one_transaction(db: Database):
    world = await make_pdf_world(db)
    commits: list[object] = []

    def committed(conn: object) -> None:
        commits.append(conn)

    event.listen(db.sync_engine, "commit", committed)
    try:
        rows = DocumentRows(db)
        ids = await asyncio.gather(*(rows.record(params(world, n)) for n in range(3)))
        transactions = len(commits)
        again = await rows.record(params(world, 1))  # the same job again: its row, no new one
    finally:
        event.remove(db.sync_engine, "commit", committed)
    assert len(set(ids)) == 3 and again == ids[1]
    assert transactions == 1  # one for the three, where each wrote its own before
    assert await counted(db) == (3, 3)  # the job run again records its event once


async def test_a_row_that_cannot_be_written_fails_alone(db: Database):
    world = await make_pdf_world(db)
    rows = DocumentRows(db)
    results = await asyncio.gather(
        rows.record(params(world, 1)),
        rows.record(params(world, 2, entity_id="not a number")),
        rows.record(params(world, 3)),
        return_exceptions=True,
    )
    assert isinstance(results[0], int) and isinstance(results[2], int)
    bad = results[1]
    assert isinstance(bad, Exception)
    if not isinstance(bad, InvalidEventData):  # PostgreSQL refuses the row itself
        with pytest.raises(type(bad)):
            raise bad
    assert await counted(db) == (2, 2)
