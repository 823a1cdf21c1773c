"""The reference page of the ILS job types, ``docs/jobs.md``, generated from the declarations
(``ils queue docs`` writes it; a test fails when the committed page is stale).
"""

from __future__ import annotations

from collections import defaultdict

from ils.queue.declare import Helper
from ils.queue.flows import flows_in
from ils.queue.reference import markdown_sections, markdown_table, model_wire_fields
from ils.queue.registry import Registry

HEADER = """# Job types

Generated from the job declarations (`@job` in `src/ils/jobs/`) by `ils queue docs`; do not
edit by hand. Node producers add jobs with the queue and job name below and camelCase data; the
JSON schema of each type's data is in `ils queue info --json` (and `JobType.schema()`).
Priority follows BullMQ (1 is the highest); attempts default to the queue's. What becomes of a
job that fails for good (a dead letter), is cancelled, or is enqueued twice (a deduplication
window): [failures.md](failures.md).

"""


def helper_names() -> dict[str, list[str]]:
    """The names in :mod:`ils.jobs.helpers` that enqueue each job type, by its key."""
    from ils.jobs import helpers

    names: dict[str, list[str]] = defaultdict(list)
    for name, value in sorted(vars(helpers).items()):
        if isinstance(value, Helper):
            names[value.job_def.key].append(name)
    return dict(names)


FLOWS = """
## Flows

Declared with `@flow` in `src/ils/jobs/flows.py`: each helper enqueues the whole tree at once
(through the caller's outbox when bound to a session); the job it answers with is the root, the
one that runs last. How flows and batches work, with a runnable example: `docs/flows.md`.

| flow | description | data (`*` required) | Python helper |
|---|---|---|---|
"""


DETAILS = """
## Each job type

Per type: its data's fields (the JSON name a producer sends, the Python name its helper takes,
the type, whether it is required and its default), its options, the Python helper's signature
(helpers take the fields by name; `.using(session=..., company_id=..., options=...)` binds how
to enqueue, see [Concepts](guide/concepts.md#helpers)) and a Node producer's call with the
smallest valid data (`connection` an ioredis connection, `prefix` the `ILS_REDIS_PREFIX`; a
complete producer is in [Integration examples](examples.md#from-node-a-bullmq-producer)). A test
validates each example against its job type.

"""


def flows_table() -> str:
    """The declared flows of :mod:`ils.jobs.flows` as a Markdown table."""
    from ils.jobs import flows, helpers

    names = {value.job_def: name for name, value in vars(helpers).items()
             if isinstance(value, Helper)}  # fmt: skip
    lines = []
    for declared in sorted(flows_in(vars(flows)), key=lambda f: f.name):
        model = declared.payload
        fields = ", ".join(f"`{f}`" for f in model_wire_fields(model))  # type: ignore[arg-type]
        helper = f"`{names[declared]}`" if declared in names else "-"
        lines.append(f"| `{declared.name}` | {declared.description} | {fields} | {helper} |")
    return FLOWS + "\n".join(lines) + "\n"


def render(registry: Registry) -> str:
    """The whole page for ``registry``'s job types and the declared flows."""
    helpers = helper_names()
    return (
        HEADER + markdown_table(registry, helpers) + flows_table() + DETAILS
        + markdown_sections(registry, helpers)
    )  # fmt: skip
