"""``process-oma-file`` and ``render-oma-trace`` as named steps.

process: read the source -> parse -> validate and measure -> find the order -> store the
original and the row -> tell the order's owner -> queue the trace's drawing. A file that cannot
be read, breaks the standard's rules (an ``error`` issue) or names no order of its company fails
the job with the reason, after telling the owner of each error, and stores nothing. Everything a
run writes is keyed by the job id (the original's storage key, the row, the notifications' and
the render's job ids), so a retry or a re-run stores nothing twice.

Imported by the first job (SQLAlchemy through :mod:`ils.jobs.oma.store`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ils.domain.models.oma import OMA_VALID, OMA_WARNINGS
from ils.errors import GiveUp
from ils.files import safe_name
from ils.jobs.notification.handlers import system as system_notification
from ils.jobs.oma import store
from ils.jobs.oma.handlers import ProcessOmaFile, render_oma_trace
from ils.jobs.oma.reading import (
    FRAME_LABELS,
    RX_LABELS,
    comparisons,
    derived_measures,
    drawable,
    per_side,
    traces_of,
)
from ils.oma import OmaError, OmaFile, parse
from ils.oma.render import render_svg
from ils.oma.validate import OmaIssue, validate
from ils.queue.producer import EnqueueOptions

if TYPE_CHECKING:
    from ils.jobs.oma.folders import OmaFolders
    from ils.jobs.resources import Ctx

#: Notifications sent for one file's errors at most (then one saying how many more).
MAX_NOTICES = 10


@dataclass(frozen=True)
class Reading:
    """What the file says, checked: its issues (the measure mismatches among the warnings)."""

    oma: OmaFile
    issues: list[OmaIssue]
    data: dict[str, Any]

    @property
    def errors(self) -> list[OmaIssue]:
        return [i for i in self.issues if i.severity == "error"]


def read_source(payload: ProcessOmaFile, folders: OmaFolders) -> tuple[bytes, str]:
    """The file's bytes and name: from ``content``, or from ``path`` inside the drop folder."""
    if payload.path is not None:
        target = folders.inside(payload.path)
        return target.read_bytes(), payload.filename or target.name
    return payload.data(), payload.filename or "upload.oma"


def parse_file(data: bytes) -> OmaFile:
    try:
        return parse(data)
    except OmaError as exc:
        raise GiveUp(f"not a readable OMA file: {exc}") from None


def read(oma: OmaFile) -> Reading:
    """Validate, measure each traced side and compare with the recorded HBOX/VBOX/FED/CIRC."""
    issues = list(validate(oma))
    derived = derived_measures(oma)
    checks = []
    for c in comparisons(oma, derived):
        checks.append({"label": c.label, "side": c.side, "recorded": c.recorded,
                       "computed": c.computed, "tolerance": c.tolerance, "ok": c.ok})  # fmt: skip
        if not c.ok:
            record = oma.get(c.label)
            issues.append(OmaIssue("warning", record.line if record else None, c.label,
                                   f"{c.side} side records {c.recorded:.2f} mm, the trace "
                                   f"measures {c.computed:.2f} mm"))  # fmt: skip
    data = {"rx": per_side(oma, RX_LABELS), "frame": per_side(oma, FRAME_LABELS),
            "derived": derived, "checks": checks}  # fmt: skip
    return Reading(oma, issues, data)


def issue_data(issue: OmaIssue) -> dict[str, Any]:
    return {"severity": issue.severity, "line": issue.line, "label": issue.label,
            "message": issue.message}  # fmt: skip


def derived_id(job_id: str, what: str) -> str:
    """A job id made from this job's and ``what`` (at most 40 characters, no ``:``): the same
    run, retried, enqueues the same jobs, which BullMQ adds once."""
    return f"oma-{hashlib.sha256(f'{job_id}/{what}'.encode()).hexdigest()[:24]}"


async def notify(
    ctx: Ctx, company_id: int, user_id: int | None, title: str, messages: list[str],
    priority: Literal["high", "medium"] = "medium",
) -> None:  # fmt: skip
    """One notification per message to ``user_id`` (none when there is nobody to tell)."""
    if user_id is None:
        return
    shown = messages[:MAX_NOTICES]
    if len(messages) > MAX_NOTICES:
        shown.append(f"... and {len(messages) - MAX_NOTICES} more issues.")
    for n, message in enumerate(shown):
        options = EnqueueOptions(job_id=derived_id(ctx.job_id, f"notice-{n}"))
        await system_notification.helper.using(
            producer=ctx.resources.producer, company_id=company_id, options=options
        )(user_id=user_id, title=title[:200], message=message, priority=priority)


def storage_key(company_id: int, job_id: str, suffix: str) -> str:
    return f"{company_id}/oma/{safe_name(job_id)}.{suffix}"


async def process(payload: ProcessOmaFile, ctx: Ctx) -> dict[str, Any]:
    """source -> parse -> read -> order -> store -> notify -> render."""
    db = ctx.resources.db
    data, filename = read_source(payload, ctx.resources.oma_folders)
    reading = read(parse_file(data))
    oma = reading.oma
    order = await store.find_order(db, payload.company_id, payload.order_id, oma.job)
    tell = order.owner_user_id or payload.user_id
    if reading.errors:
        title = f"OMA file {filename[:80]} for {order.number} refused"
        messages = [str(i) for i in reading.errors]
        await notify(ctx, payload.company_id, tell, title, messages, "high")
        listed = "; ".join(str(i) for i in reading.errors[:5])
        raise GiveUp(f"{len(reading.errors)} validation errors: {listed}")
    ctx.check_cancelled("before storing")
    stored = ctx.resources.files.put(storage_key(payload.company_id, ctx.job_id, "oma"), data)
    status = OMA_WARNINGS if reading.issues else OMA_VALID
    row_id = await store.save(db, ctx.job_id, {
        "company_id": payload.company_id, "order_id": order.id, "job_ref": oma.job,
        "filename": safe_name(filename)[:200], "path": stored.key, "size": stored.size,
        "sha256": stored.sha256, "status": status, "data": reading.data,
        "traces": traces_of(oma), "issues": [issue_data(i) for i in reading.issues],
    }, records=len(oma.records))  # fmt: skip
    warnings = len(reading.issues)
    sides = " and ".join(reading.data["derived"]) or "no"
    summary = f"{filename}: {sides} trace(s) read" + (
        f", {warnings} warnings." if warnings else "."
    )
    await notify(ctx, payload.company_id, tell, f"OMA file for {order.number} read", [summary])
    if oma.traces:
        await render_oma_trace.helper.using(
            producer=ctx.resources.producer, company_id=payload.company_id,
            options=EnqueueOptions(job_id=derived_id(ctx.job_id, "render")),
        )(oma_file_id=row_id)  # fmt: skip
    return {"omaFileId": row_id, "orderId": order.id, "path": stored.key,
            "sha256": stored.sha256, "issues": warnings}  # fmt: skip


async def render(oma_file_id: int, ctx: Ctx) -> dict[str, Any]:
    """the row's traces and centres -> SVG -> store -> row."""
    db = ctx.resources.db
    row = await store.load_file(db, oma_file_id)
    svg = render_svg(drawable(row.job_ref, row.data, row.traces)).encode()
    stored = ctx.resources.files.put(storage_key(row.company_id, row.job_id, "svg"), svg)
    await store.set_svg(db, oma_file_id, stored.key)
    return {"omaFileId": oma_file_id, "path": stored.key, "size": stored.size}
