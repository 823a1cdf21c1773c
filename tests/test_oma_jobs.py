"""The oma queue end to end on real Redis and both databases: a file sent as base64 or left in
the drop folder is stored with its order (original, parsed data, traces, derived measures), its
owner told, its trace drawn; each bad file (unreadable, truncated trace, non-ASCII, a JOB of no
order, another company's order, a path outside the drop folder) fails its job with the reason,
stores nothing, and tells the owner of each validation error; a job run twice stores once; an
order's file exported to the drop folder reads back with its trace; the lab work ticket draws
the traced shape (saved to ``test-output/oma/`` for a person to look at)."""

from __future__ import annotations

import base64
import contextlib
import io
import logging
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pypdfium2
import pytest
from pypdf import PdfReader
from sqlalchemy import func, select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Notification, OmaFile
from ils.domain.models.events import Event
from ils.errors import InvalidJobPayload
from ils.jobs.oma.handlers import ProcessOmaFile
from ils.jobs.oma.process import process
from ils.oma import parse
from ils.queue.admin import JobView
from ils.queue.context import JobContext
from tests.conftest import REPO, make_settings
from tests.support.oma_files import job_file, truncated
from tests.support.oma_world import make_oma_world
from tests.support.running import running
from tests.support.waiting import until_quiet

QUEUES = ("oma", "notification")
OUTPUT = REPO / "test-output" / "oma"


@contextlib.asynccontextmanager
async def oma_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    env = {"ILS_OMA_DIR": str(tmp_path / "drop"), "ILS_QUEUE_OMA_BACKOFF_DELAY_MS": "200"}
    system = JobSystem(make_settings(redis_url, prefix, tmp_path, env=env), database=db)
    try:
        yield system
    finally:
        await system.close()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def run(system: JobSystem, company_id: int, **payload: Any) -> JobView:
    """Enqueue one process-oma-file job, run the oma and notification queues until it and the
    jobs it enqueued have ended."""
    enqueued = await system.producer.enqueue(
        "oma", "process-oma-file", {"companyId": company_id, **payload}, company_id=company_id
    )
    async with running(system, *QUEUES):
        view = await system.admin.wait_for_job("oma", enqueued.job_id, timeout_s=30)
        await until_quiet(system, QUEUES)
    return view


async def rows(db: Database) -> list[OmaFile]:
    async with db.session() as s:
        return list(await s.scalars(select(OmaFile).order_by(OmaFile.id)))


async def notices(db: Database, user_id: int) -> list[Notification]:
    async with db.session() as s:
        query = select(Notification).where(Notification.user_id == user_id)
        return list(await s.scalars(query.order_by(Notification.id)))


async def processed_events(db: Database) -> list[Event]:
    async with db.session() as s:
        found = await s.scalars(select(Event).where(Event.type == "oma.file_processed"))
        return list(found)


async def test_a_file_is_stored_with_its_order_its_owner_told_and_its_trace_drawn(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_oma_world(db)
    data = job_file()
    async with oma_system(redis_url, prefix, tmp_path, db) as system:
        view = await run(system, w.lab_id, content=b64(data), filename="job 42.oma")
        assert view.state == "completed", view.failed_reason
        [row] = await rows(db)
        with system.files.open(row.path) as fh:
            assert fh.read() == data
        assert row.svg_path is not None
        with system.files.open(row.svg_path) as fh:
            svg = fh.read().decode()
    assert (row.company_id, row.order_id, row.job_ref) == (w.lab_id, w.order_id, "ORD-000042")
    assert (row.status, row.issues, row.size) == ("valid", [], len(data))
    assert row.path == f"{w.lab_id}/oma/{view.id}.oma" and row.filename == "job-42.oma"
    assert view.return_value["omaFileId"] == row.id
    assert set(row.traces) == {"right", "left"}
    assert len(row.traces["right"]["radii"]) == 400 and row.traces["left"]["equiangular"]
    assert row.data["rx"]["right"]["SPH"] == "-2.25" and row.data["rx"]["left"]["SPH"] == "-1.75"
    assert row.data["frame"]["left"]["DBL"] == "18.00"
    assert row.data["derived"]["right"] == {"hbox": 50.0, "vbox": 50.0, "ed": 50.0,
                                            "circ": 157.08}  # fmt: skip
    assert all(check["ok"] for check in row.data["checks"]) and len(row.data["checks"]) == 4
    assert svg.startswith("<svg") and 'class="lens lens-R"' in svg
    [told] = await notices(db, w.owner_id)
    assert told.title == "OMA file for ORD-000042 read" and "job 42.oma" in told.message
    [event] = await processed_events(db)
    assert (event.company_id, event.subject_type, event.subject_id) == (
        w.lab_id,
        "oma_file",
        str(row.id),
    )
    assert event.data == {"file_name": "job-42.oma", "records": event.data["records"],
                          "order_id": w.order_id}  # fmt: skip
    assert event.data["records"] > 80 and event.actor_job_id == view.id  # R= lines among them


async def test_measures_that_disagree_with_the_trace_are_kept_as_warnings(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_oma_world(db)
    async with oma_system(redis_url, prefix, tmp_path, db) as system:
        view = await run(system, w.lab_id, content=b64(job_file(hbox="47.00")), orderId=w.order_id)
    assert view.state == "completed", view.failed_reason
    [row] = await rows(db)
    assert row.status == "warnings"
    assert [(i["label"], i["severity"]) for i in row.issues] == [("HBOX", "warning")] * 2
    assert "records 47.00 mm, the trace measures 50.00 mm" in row.issues[0]["message"]
    [told] = await notices(db, w.owner_id)
    assert "2 warnings" in told.message


async def test_a_file_left_in_the_drop_folder_is_read_from_there(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_oma_world(db)
    (tmp_path / "drop" / "in").mkdir(parents=True)
    (tmp_path / "drop" / "in" / "42.oma").write_bytes(job_file())
    (tmp_path / "secret.oma").write_bytes(job_file())
    async with oma_system(redis_url, prefix, tmp_path, db) as system:
        ok = await run(system, w.lab_id, path="in/42.oma")
        outside = await run(system, w.lab_id, path="../secret.oma")
        missing = await run(system, w.lab_id, path="in/none.oma")
    assert ok.state == "completed", ok.failed_reason
    assert [r.filename for r in await rows(db)] == ["42.oma"]
    assert outside.state == "failed" and "path: '../secret.oma' is not a path inside" in (
        outside.failed_reason or ""
    )
    assert missing.state == "failed" and "no file 'in/none.oma'" in (missing.failed_reason or "")


BAD = {
    "unreadable": (
        b"JOB=ORD-000042\r\nTRCFMT=1;3;E;R;F\r\nR=2500;2500;x\r\n",
        "not a readable OMA file: line 3, label R: not an integer: 'x'",
    ),
    "non-ascii": ("JOB=ORD-000042\r\n_NOTE=Grüße\r\n".encode(), "non-ASCII byte 0xC3"),
    "no order": (job_file("ORD-999999"), "JOB: no order 'ORD-999999' in company"),
    "no JOB": (job_file(None), "JOB: the file has no JOB record and no orderId was given"),
}


async def test_each_bad_file_fails_its_job_with_the_reason_and_stores_nothing(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_oma_world(db)
    async with oma_system(redis_url, prefix, tmp_path, db) as system:
        for name, (data, reason) in BAD.items():
            view = await run(system, w.lab_id, content=b64(data))
            assert view.state == "failed", name
            assert reason in (view.failed_reason or ""), (name, view.failed_reason)
            assert view.attempts_made == 1, name  # given up, not retried
        theirs = await run(system, w.lab_id, content=b64(job_file()), orderId=w.other_order_id)
        assert theirs.state == "failed"
        assert f"orderId: order {w.other_order_id} not found for company {w.lab_id}" in (
            theirs.failed_reason or ""
        )
        cut = await run(system, w.lab_id, content=b64(truncated()))
    assert cut.state == "failed"
    assert "1 validation errors: error: line 10, label R: TRCFMT announces 400 points" in (
        cut.failed_reason or ""
    )
    assert await rows(db) == []
    assert not (tmp_path / "var" / "files").exists()
    [told] = await notices(db, w.owner_id)  # of the truncated file's one error
    assert told.title == "OMA file upload.oma for ORD-000042 refused"
    assert "TRCFMT announces 400 points, the R records hold 200" in told.message


async def test_a_payload_without_one_readable_source_is_refused_when_enqueued(system: JobSystem):
    for payload, field in (
        ({"content": ""}, "content: String should have at least 4 characters"),
        ({"content": "not base64!"}, "content: Value error, not base64"),
        ({"content": "QUJD", "path": "in/a.oma"}, "exactly one of content (base64) and path"),
        ({}, "exactly one of content (base64) and path"),
    ):
        with pytest.raises(InvalidJobPayload, match=re.escape(field)):
            await system.producer.enqueue("oma", "process-oma-file", {"companyId": 1, **payload})


async def test_a_job_run_twice_stores_its_file_and_tells_its_owner_once(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_oma_world(db)
    payload = ProcessOmaFile(company_id=w.lab_id, content=b64(job_file()))
    async with oma_system(redis_url, prefix, tmp_path, db) as system:
        ctx = JobContext(job_id="oma-1", queue="oma", name="process-oma-file", attempt=1,
                         max_attempts=3, logger=logging.LoggerAdapter(logging.getLogger("t")),
                         resources=system.resources)  # fmt: skip
        first = await process(payload, ctx)
        second = await process(payload, ctx)
        async with running(system, *QUEUES):
            await until_quiet(system, QUEUES)
    assert first["omaFileId"] == second["omaFileId"] and first["path"] == second["path"]
    async with db.session() as s:
        assert await s.scalar(select(func.count(OmaFile.id))) == 1
    assert len(await notices(db, w.owner_id)) == 1
    assert sorted(p.name for p in (tmp_path / "var" / "files").rglob("*.oma")) == ["oma-1.oma"]
    assert len(await processed_events(db)) == 1  # the event, like the row, once per job


async def test_an_order_is_exported_to_the_drop_folder_or_for_download_with_its_trace(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_oma_world(db)
    async with oma_system(redis_url, prefix, tmp_path, db) as system:
        await run(system, w.lab_id, content=b64(job_file()))
        views = []
        for deliver in ("drop", "download"):
            enqueued = await system.producer.enqueue(
                "oma", "export-oma-file", {"companyId": w.lab_id, "orderId": w.order_id,
                                           "deliver": deliver}, company_id=w.lab_id,
            )  # fmt: skip
            async with running(system, "oma"):
                views.append(await system.admin.wait_for_job("oma", enqueued.job_id, 30))
        theirs = await system.producer.enqueue(
            "oma", "export-oma-file", {"companyId": w.lab_id, "orderId": w.other_order_id},
            company_id=w.lab_id,
        )  # fmt: skip
        async with running(system, "oma"):
            refused = await system.admin.wait_for_job("oma", theirs.job_id, timeout_s=30)
        assert [v.state for v in views] == ["completed"] * 2, [v.failed_reason for v in views]
        with system.files.open(views[1].return_value["path"]) as fh:
            kept = fh.read()
    exported = tmp_path / "drop" / "outgoing" / str(w.lab_id) / "ORD-000042.oma"
    assert exported.read_bytes() == kept
    oma = parse(kept)
    assert oma.job == "ORD-000042"
    assert oma.chiral("SPH") == ("-2.25", "-1.75") and oma.chiral("AX") == ("90", None)
    assert oma.chiral("IPD") == ("31.50", "31.50") and oma.value("DBL") == "18.00"
    assert [(t.side, len(t.radii)) for t in oma.traces] == [("R", 400), ("L", 400)]
    assert refused.state == "failed"
    assert f"order {w.other_order_id} not found for company {w.lab_id}" in (
        refused.failed_reason or ""
    )


async def test_the_lab_work_ticket_draws_the_orders_traced_shape(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    w = await make_oma_world(db)
    async with oma_system(redis_url, prefix, tmp_path, db) as system:
        await run(system, w.lab_id, content=b64(job_file()))
        enqueued = await system.producer.enqueue("pdf", "lab-work-ticket", {"orderId": w.order_id})
        async with running(system, "pdf"):
            view = await system.admin.wait_for_job("pdf", enqueued.job_id, timeout_s=60)
        assert view.state == "completed", view.failed_reason
        with system.files.open(view.return_value["path"]) as fh:
            pdf = fh.read()
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)
    assert "Frame shape" in text
    assert "R 50.00 x 50.00, ED 50.00" in text and "L 50.00 x 50.00, ED 50.00" in text
    OUTPUT.mkdir(parents=True, exist_ok=True)
    page = pypdfium2.PdfDocument(pdf)[0]
    page.render(scale=1.5).to_pil().save(
        OUTPUT / f"lab-ticket-with-shape-{db.engine.dialect.name}.png"
    )
