"""The reference of a registry's job types, derived from their declarations: one description per
type (the CLI's ``queue info``, its JSON) with the JSON schema of its data, and the Markdown table
of the docs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ils.queue.registry import JobType, Payload, Registry


def wire_fields(job_type: JobType) -> list[str]:
    """The data's field names as producers send them; required ones first, marked ``*``."""
    return model_wire_fields(job_type.payload)


def model_wire_fields(model: type[Payload]) -> list[str]:
    """A payload model's field names on the wire; required ones first, marked ``*``."""
    fields = model.model_fields
    names = [(info.alias or name, info.is_required()) for name, info in fields.items()]
    return [f"{n}*" for n, req in names if req] + [n for n, req in names if not req]


def describe(job_type: JobType) -> dict[str, Any]:
    """One job type as the CLI shows it (``attempts`` None: the queue's)."""
    return {
        "queue": job_type.queue,
        "name": job_type.name,
        "description": job_type.description,
        "priority": job_type.priority or None,
        "attempts": job_type.attempts,
        "backoff_delay_ms": job_type.backoff_delay_ms,
        "timeout_s": job_type.timeout_s,
        "resources": sorted(job_type.resources),
        "fields": wire_fields(job_type),
        "schema": job_type.schema(),
    }


def markdown_table(registry: Registry, helpers: Mapping[str, Sequence[str]] | None = None) -> str:
    """The job types of ``registry`` as a Markdown table, queue by queue; ``helpers`` maps a
    type's key (``email/generic``) to the Python names that enqueue it."""
    names = helpers or {}
    lines = [
        "| queue | job name | description | priority | attempts | data (`*` required) "
        "| resources | Python helper |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for queue in registry.queues:
        for t in sorted(registry.for_queue(queue), key=lambda t: t.name):
            d = describe(t)
            cells = [
                queue, f"`{t.name}`", t.description or "-", str(d["priority"] or "-"),
                str(t.attempts or "queue's"), ", ".join(f"`{f}`" for f in d["fields"]) or "-",
                ", ".join(d["resources"]) or "-",
                ", ".join(f"`{n}`" for n in names.get(t.key, ())) or "-",
            ]  # fmt: skip
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"
