"""Jobs whose stored fields are not JSON, or whose data is over the size cap (a foreign producer
wrote them): recognised when a worker takes them, quarantined in their own hash, and failed once
by the executor with the reason.

BullMQ decodes a job's ``data``, ``opts`` and ``progress`` as JSON when a worker takes it; one that
does not decode raised inside BullMQ's fetch, so the job sat in active without being run until the
stalled-job check handed it back, for ever (issue 16, defect 4). :func:`readable` replaces such a
field, in the job's hash too (so admin views, dead letters and Node dashboards can read the job),
with a JSON marker keeping the reason and the start of the raw text (oversized data likewise,
which also frees its memory: :mod:`ils.queue.payload_size`); the executor's first step
(:func:`check_decodable`) then fails the job for good with that reason: it is never retried.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from bullmq import Job

from ils.errors import GiveUp

if TYPE_CHECKING:
    from bullmq import Queue

#: The field of a job's data that marks it undecodable (reserved: not part of any payload).
MARKER = "_ilsUndecodable"
#: How much of the raw text the marker keeps, and how much of it a failure reason quotes.
RAW_KEPT = 2_000
RAW_QUOTED = 120
#: The job hash fields BullMQ decodes as JSON, and what each is replaced with when it does not.
JSON_FIELDS: dict[str, str] = {"opts": "{}", "progress": "0"}


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _decode_error(value: Any) -> str | None:
    """Why ``value`` (a hash field as Redis returned it) is not JSON, or None when it is."""
    try:
        json.loads(value)
    except (ValueError, TypeError) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def data_bytes_over(data: Any, max_bytes: int | None) -> int | None:
    """The size in bytes of ``data`` (a hash field: text or bytes) when it is over
    ``max_bytes``, else None. Text of at most ``max_bytes // 4`` characters is under the cap
    whatever its characters (UTF-8 takes at most 4 bytes per character): it is not encoded."""
    if max_bytes is None or data is None:
        return None
    if isinstance(data, str):
        if len(data) <= max_bytes // 4:
            return None
        data = data.encode()
    size = len(data)
    return size if size > max_bytes else None


def readable(
    raw: Mapping[str, Any], max_data_bytes: int | None = None
) -> tuple[dict[str, Any], dict[str, str]]:
    """``raw`` (a job hash BullMQ is about to decode) with every undecodable JSON field replaced
    (and, with ``max_data_bytes``, data bigger than that), and the replaced fields' new values
    (empty when the job decodes as it is)."""
    out = dict(raw)
    fixed: dict[str, str] = {}
    data = raw.get("data")
    if data is not None:
        size = data_bytes_over(data, max_data_bytes)
        reason = None
        if size is not None:
            reason = (
                f"job data is {size} bytes, over the limit of {max_data_bytes} "
                "(ILS_MAX_PAYLOAD_BYTES)"
            )
        else:
            error = _decode_error(data)
            if error is not None:
                reason = f"job data is not JSON ({error}); written by a foreign producer?"
        if reason is not None:
            marker = {MARKER: {"reason": reason, "raw": _text(data)[:RAW_KEPT]}}
            fixed["data"] = json.dumps(marker)
    for name, default in JSON_FIELDS.items():
        value = raw.get(name)
        if value is not None and _decode_error(value) is not None:
            fixed[name] = default
    out.update(fixed)
    return out, fixed


def check_decodable(data: Any) -> None:
    """Raise :class:`GiveUp` for a job whose data :func:`readable` replaced."""
    if isinstance(data, Mapping) and isinstance(data.get(MARKER), Mapping):
        mark = data[MARKER]
        raw = str(mark.get("raw", ""))[:RAW_QUOTED]
        raise GiveUp(f"{mark.get('reason')}; it starts with {raw!r}")


async def job_from_id(queue: Queue, job_id: str) -> Job | None:
    """BullMQ's ``Job.fromId``, readable whatever a foreign producer wrote in its fields (the
    admin views read every job through here: a job that is not JSON must not break a page)."""
    raw = await queue.backend.getJobData(job_id)
    if not raw:
        return None
    data, _fixed = readable(raw)
    return Job.fromJSON(queue, data, job_id)


async def jobs_in(queue: Queue, state: str, start: int, end: int) -> list[Job]:
    """BullMQ's ``Queue.getJobs([state], start, end)`` (newest first), made readable as
    :func:`job_from_id` makes one job."""
    per_state = await queue.backend.scripts.getJobs([state], start, end, False)
    out: list[Job] = []
    seen: set[str] = set()
    for rows in per_state:
        for job_id, flat in rows:
            if job_id in seen:
                continue
            seen.add(job_id)
            data, _fixed = readable(dict(zip(flat[::2], flat[1::2], strict=True)))
            out.append(Job.fromJSON(queue, data, job_id))
    return out
