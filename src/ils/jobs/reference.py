"""The reference page of the ILS job types, ``docs/jobs.md``, generated from the declarations
(``ils queue docs`` writes it; a test fails when the committed page is stale).
"""

from __future__ import annotations

from collections import defaultdict

from ils.queue.declare import Helper
from ils.queue.reference import markdown_table
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


def render(registry: Registry) -> str:
    """The whole page for ``registry``'s job types."""
    return HEADER + markdown_table(registry, helper_names())
