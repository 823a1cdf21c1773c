"""What a viewer who may watch the queues but not read patients' data sees of a job: the one
masking function the admin layer applies to every field a job exposes (and its dead letter's).

The payload keeps the fields its job type does not mark :class:`ils.queue.registry.Personal`;
everything else free-form (return value, failure reason, stack trace, logs, non-numeric progress,
a flow's children's results) is hidden whole, as nothing says which part of it is safe.
"""

from __future__ import annotations

from typing import Any

from ils.queue.registry import MASK, JobType, mask_personal
from ils.queue.tenancy import without_company

#: The fields of a job's view (detail or list row) that may carry personal data.
MASKED_FIELDS = ("data", "return_value", "failed_reason", "stacktrace", "logs", "progress")


def _hidden(value: Any) -> Any:
    """``value`` hidden whole: None and empty values stay (they tell nothing), text becomes
    :data:`MASK`, lists keep their length."""
    if value is None or value == "" or value == [] or value == {}:
        return value
    if isinstance(value, list):
        return [MASK] * len(value)
    return MASK


def _progress(value: Any) -> Any:
    # A number is how far the job got; anything else (a dict, a message) may quote the payload.
    if value is None or (isinstance(value, int | float) and not isinstance(value, bool)):
        return value
    return MASK


def mask_job(view: dict[str, Any], job_type: JobType | None) -> dict[str, Any]:
    """A copy of a job's view (a :class:`~ils.queue.browse.JobDetail`'s or ``JobSummary``'s dict)
    with every field that may carry personal data masked; fields it lacks are left out."""
    out = dict(view)
    if "data" in out:
        out["data"] = mask_personal(job_type, without_company(out["data"]))
    for name in ("return_value", "failed_reason", "stacktrace", "logs"):
        if name in out:
            out[name] = _hidden(out[name])
    if "progress" in out:
        out["progress"] = _progress(out["progress"])
    if out.get("children"):
        out["children"] = [
            {**child, "return_value": _hidden(child["return_value"])}
            if "return_value" in child
            else child
            for child in out["children"]
        ]
    return out


def mask_dead_letter(view: dict[str, Any], job_type: JobType | None) -> dict[str, Any]:
    """A copy of a dead letter's view (:class:`~ils.queue.dead_letters.DeadLetter`'s dict) with
    its payload's personal fields masked and its failure reason and stack trace hidden whole,
    as :func:`mask_job` does for the job itself."""
    job = mask_job(
        {"data": view["payload"], "failed_reason": view["reason"], "stacktrace": view["stack"]},
        job_type,
    )
    return {**view, "payload": job["data"], "reason": job["failed_reason"],
            "stack": job["stacktrace"]}  # fmt: skip
