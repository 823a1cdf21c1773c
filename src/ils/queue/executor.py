"""Running one job, as a short pipeline of named steps shared by workers and the inline fallback.

check the data decoded (:mod:`ils.queue.undecodable`) -> end a flow parent cancelled while it
waited for its children (:class:`JobCancelled`, see :mod:`ils.queue.flow_cancel`) -> resolve job
type -> resolve handler -> validate payload -> skip a flow parent whose children failed (when its
flow says so) -> perform -> normalize result. A step that can never succeed (data that is not
JSON, unknown type, no handler, bad payload) raises :class:`GiveUp`, so the job fails at once
with its reason kept, instead of burning retries.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from ils.errors import GiveUp, InvalidJobPayload, JobCancelled, JobTimedOut, UnknownJobType
from ils.queue.children import skipped_result
from ils.queue.context import JobContext
from ils.queue.registry import Handler, JobType, Payload, Registry
from ils.queue.states import cancel_reason
from ils.queue.tenancy import without_company
from ils.queue.undecodable import check_decodable

log = logging.getLogger("ils.jobs")


def payload_errors(model: type[Payload], exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic's errors as ``{"field": "order_id", "message": ...}``, named in snake_case
    whichever spelling (``orderId`` from Node producers) the sender used."""
    by_alias = {f.alias: name for name, f in model.model_fields.items() if f.alias}
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err["loc"]]
        if loc:
            loc[0] = by_alias.get(loc[0], loc[0])
        out.append({"field": ".".join(loc) or "(payload)", "message": err["msg"]})
    return out


def validate_payload(job_type: JobType, data: Any) -> Payload:
    """The typed payload, or :class:`InvalidJobPayload` naming each bad field. The company
    stamp of a job's data (:mod:`ils.queue.tenancy`) is not part of it."""
    if isinstance(data, job_type.payload):
        return data
    if isinstance(data, Payload):
        data = data.model_dump()
    if not isinstance(data, Mapping):
        raise InvalidJobPayload(
            job_type.key, [{"field": "(payload)", "message": "must be an object"}]
        )
    try:
        return job_type.payload.model_validate(without_company(dict(data)))
    except ValidationError as exc:
        raise InvalidJobPayload(job_type.key, payload_errors(job_type.payload, exc)) from exc


def normalize_result(value: Any) -> Any:
    """What BullMQ stores as the return value: JSON, or the value's text when it is not JSON."""
    if value is None or isinstance(value, str | int | float | bool):
        return value
    if isinstance(value, Payload):
        return value.to_wire()
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
    return value


class Executor:
    """Runs jobs of the types in one registry."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry

    def resolve(self, queue: str, name: str) -> JobType:
        try:
            return self.registry.get(queue, name)
        except UnknownJobType as exc:
            raise GiveUp(f"unknown job type: {exc}") from exc

    def handler_of(self, job_type: JobType) -> Handler:
        if job_type.handler is None:
            raise GiveUp(f"no handler for {job_type.key}")
        return job_type.handler

    def validate(self, job_type: JobType, data: Any) -> Payload:
        try:
            return validate_payload(job_type, data)
        except InvalidJobPayload as exc:
            raise GiveUp(str(exc)) from exc

    async def perform(
        self, job_type: JobType, handler: Handler, payload: Payload, ctx: JobContext[Any]
    ) -> Any:
        if job_type.timeout_s is None:
            return await self._call(job_type, handler, payload, ctx)
        try:
            async with asyncio.timeout(job_type.timeout_s):
                return await self._call(job_type, handler, payload, ctx)
        except TimeoutError:
            raise JobTimedOut(f"{job_type.key} ran longer than {job_type.timeout_s:g} s") from None

    async def _call(
        self, job_type: JobType, handler: Handler, payload: Payload, ctx: JobContext[Any]
    ) -> Any:
        if job_type.handler_is_async:
            return await handler(payload, ctx)
        # Sync handlers run in a thread so the loop keeps renewing locks (guard 7).
        result = await asyncio.to_thread(handler, payload, ctx)
        if asyncio.iscoroutine(result):
            result = await result
        return result

    async def execute(self, queue: str, name: str, data: Any, ctx: JobContext[Any]) -> Any:
        check_decodable(data)
        reason = cancel_reason(data)
        if reason is not None:  # cancelled with its flow while it waited for its children
            raise JobCancelled(reason)
        job_type = self.resolve(queue, name)
        handler = self.handler_of(job_type)
        payload = self.validate(job_type, data)
        skipped = await skipped_result(data, ctx.flow)
        if skipped is not None:
            await ctx.log(f"skipped: children failed: {', '.join(skipped['failedChildren'])}")
            return skipped
        return normalize_result(await self.perform(job_type, handler, payload, ctx))
