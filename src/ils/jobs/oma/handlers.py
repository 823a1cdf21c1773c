"""The three ``oma`` job types: each one's payload, declaration and handler.

``process-oma-file`` reads a DCS file (sent in the payload as base64, or left in the OMA drop
folder and named by ``path``), stores it with its order, and tells the order's owner how it went;
``render-oma-trace`` draws a stored file's trace as SVG; ``export-oma-file`` writes an order's
file for a lab device. The work is in :mod:`ils.jobs.oma.process` and
:mod:`ils.jobs.oma.export`, imported when the first job runs: the declarations load neither
SQLAlchemy nor the models.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from ils.jobs.payloads import Id, ShortText
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import Payload, Personal

#: The largest OMA file taken (a 2,048-point trace of both sides with angles is under 100 kB).
MAX_OMA_BYTES = 512 * 1024
#: A window in which the same file for the same order is processed once, however often it is
#: enqueued (a double upload, a watcher restarted).
DEDUP_TTL_S = 3600.0

# The file holds a prescription: masked in admin views like the other personal fields.
Base64 = Annotated[str, Field(min_length=4, max_length=(MAX_OMA_BYTES + 2) // 3 * 4), Personal()]


class ProcessOmaFile(Payload):
    """One DCS file for ``company_id``: ``content`` (base64) or ``path`` (relative to the OMA
    drop folder), exactly one; linked to ``order_id`` when given, else by its ``JOB`` record."""

    # the job types' reference shows this as the data a producer sends
    model_config = Payload.model_config | ConfigDict(
        json_schema_extra={"examples": [{"companyId": 1, "path": "incoming/N-2001.oma"}]}
    )

    company_id: Id
    order_id: Id | None = None
    filename: ShortText | None = None
    content: Base64 | None = None
    path: ShortText | None = None
    user_id: Id | None = Field(
        None, description="who uploaded it (told when the order has no owner)"
    )

    @field_validator("content")
    @classmethod
    def _base64(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"not base64: {exc}") from None
        return value

    @model_validator(mode="after")
    def _one_source(self) -> ProcessOmaFile:
        if (self.content is None) == (self.path is None):
            raise ValueError("give exactly one of content (base64) and path")
        return self

    def data(self) -> bytes:
        """The bytes ``content`` carries (``path`` is read by the handler)."""
        return base64.b64decode(self.content or "")

    def source_digest(self) -> str:
        return hashlib.sha256((self.content or "").encode()).hexdigest()[:32]


def process_options(payload: ProcessOmaFile) -> EnqueueOptions | None:
    """Dedup on the company, order and bytes sent: the same upload enqueued twice runs once. A
    ``path`` may hold other bytes tomorrow: its sender (the folder watcher) dedups by content."""
    if payload.content is None:
        return None
    key = f"oma:{payload.company_id}:{payload.order_id or '-'}:{payload.source_digest()}"
    return EnqueueOptions(dedup_key=key, dedup_ttl_s=DEDUP_TTL_S)


class RenderOmaTrace(Payload):
    oma_file_id: Id


class ExportOmaFile(Payload):
    """The DCS file of ``order_id`` (its Rx, frame, and its newest stored trace), delivered to
    the lab's drop folder (``drop``) or kept for download (``download``)."""

    company_id: Id
    order_id: Id
    deliver: Literal["drop", "download"] = "download"


@job(ProcessOmaFile, queue="oma", name="process-oma-file",
     description="parse, validate and store an OMA lab file with its order", priority=2,
     attempts=3, resources=("db", "files", "oma_folders", "producer"),
     options_for=process_options)  # fmt: skip
async def process_oma_file(payload: ProcessOmaFile, ctx: Ctx) -> Any:
    from ils.jobs.oma.process import process

    return await process(payload, ctx)


@job(RenderOmaTrace, queue="oma", name="render-oma-trace",
     description="draw a stored OMA file's trace as SVG", priority=3, attempts=3,
     resources=("db", "files"))  # fmt: skip
async def render_oma_trace(payload: RenderOmaTrace, ctx: Ctx) -> Any:
    from ils.jobs.oma.process import render

    return await render(payload.oma_file_id, ctx)


@job(ExportOmaFile, queue="oma", name="export-oma-file",
     description="write an order's OMA file for a lab device", priority=3, attempts=3,
     resources=("db", "files", "oma_folders"))  # fmt: skip
async def export_oma_file(payload: ExportOmaFile, ctx: Ctx) -> Any:
    from ils.jobs.oma.export import export

    return await export(payload, ctx)
