"""A job type added the way the docs say: this one file, plus its name in ``Settings.imports``
(``ILS_IMPORTS=tests.support.lens_label``). It prints the label of one lens of an order."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.registry import Payload


class LensLabel(Payload):
    order_number: str = Field(min_length=1, max_length=40)
    eye: Literal["R", "L"]
    copies: int = Field(1, ge=1, le=10)


@job(LensLabel, queue="oma", name="lens-label", description="label of one lens of an order",
     priority=3, attempts=2, timeout_s=30, resources=("producer",))  # fmt: skip
async def lens_label(payload: LensLabel, ctx: Ctx) -> dict[str, Any]:
    # Pure: the same label for every run of the job (idempotent by construction).
    prefix = ctx.resources.producer.settings.prefix  # a declared resource, typed
    return {"label": f"{payload.order_number}-{payload.eye}", "copies": payload.copies,
            "prefix": prefix}  # fmt: skip
