"""The reference of a registry's job types, derived from their declarations: one description per
type (the CLI's ``queue info``, its JSON) with the JSON schema of its data, and the docs' Markdown:
the summary table, and per type its data's fields and types, options, helper and a Node example.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from ils.queue.payload_example import example_data, helper_signature, python_type
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
                queue, f"[`{t.name}`](#{anchor(t)})", t.description or "-",
                str(d["priority"] or "-"),
                str(t.attempts or "queue's"), ", ".join(f"`{f}`" for f in d["fields"]) or "-",
                ", ".join(d["resources"]) or "-",
                ", ".join(f"`{n}`" for n in names.get(t.key, ())) or "-",
            ]  # fmt: skip
            lines.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines) + "\n"


def anchor(job_type: JobType) -> str:
    """The id of a job type's section on the reference page."""
    return job_type.key.replace("/", "-")


def _field_rows(model: type[Payload]) -> list[str]:
    rows = ["| field (JSON) | Python | type | required | description |", "|---|---|---|---|---|"]
    for name, info in model.model_fields.items():
        default = (
            "yes"
            if info.is_required()
            else f"no (`{info.get_default(call_default_factory=True)!r}`)"
        )
        cells = [f"`{info.alias or name}`", f"`{name}`", f"`{python_type(info.annotation)}`",
                 default, (info.description or "").replace("\n", " ")]  # fmt: skip
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return rows if len(rows) > 2 else ["No fields."]


def _options(job_type: JobType) -> str:
    t = job_type
    queue_s = "the queue's"
    shown = [
        f"priority {t.priority or 'none'}",
        f"attempts {t.attempts or queue_s}",
        f"backoff delay {f'{t.backoff_delay_ms} ms' if t.backoff_delay_ms else queue_s}",
        f"timeout {f'{t.timeout_s:g} s' if t.timeout_s else 'none'}",
        f"resources {', '.join(f'`{r}`' for r in sorted(t.resources)) or 'none'}",
    ]
    return "Options: " + "; ".join(shown) + "."


def job_type_section(job_type: JobType, helpers: Sequence[str] = ()) -> str:
    """One job type's section: its fields, options, Python helper and a Node producer's call."""
    t = job_type
    example = example_data(t.schema())
    data = json.dumps(example)
    if len(data) > 60:
        data = json.dumps(example, indent=2)
    signature = helper_signature(t.payload)
    if helpers:
        python = ["Python helper (in `ils.jobs.helpers`):", "", "```python"]
        python += [f"async def {name}{signature} -> Enqueued" for name in helpers]
    else:
        python = ["No Python helper: ILS enqueues it itself. By hand:", "", "```python"]
        python.append(f"await system.producer.enqueue({t.queue!r}, {t.name!r}, {data})")
    python.append("```")
    what = t.description or t.name
    lines = [
        f"### {t.key} {{#{anchor(t)}}}", "", what[:1].upper() + what[1:] + ".", "",
        *_field_rows(t.payload), "", _options(t), "", *python, "", "Node (BullMQ):", "",
        "```javascript",
        f'await new Queue("{t.queue}", {{ connection, prefix: "bull" }}).add("{t.name}", {data});',
        "```", "",
    ]  # fmt: skip
    return "\n".join(lines)


def markdown_sections(
    registry: Registry, helpers: Mapping[str, Sequence[str]] | None = None
) -> str:
    """Every job type's section, queue by queue, in the summary table's order."""
    names = helpers or {}
    return "\n".join(
        job_type_section(t, names.get(t.key, ()))
        for queue in registry.queues
        for t in sorted(registry.for_queue(queue), key=lambda t: t.name)
    )
