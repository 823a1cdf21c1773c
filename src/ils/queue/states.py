"""The job states, declared once: BullMQ's names for where a job is, which of them a job list
shows, which the queue stats count, and which are final. Admin, browse, metrics, the web routes
and the dashboard all take their lists from here.
"""

from __future__ import annotations

from typing import Literal, get_args

#: Where a job is, in BullMQ's names (what ``Queue.getJobState`` answers, and a job list's tabs).
JobState = Literal[
    "waiting", "active", "delayed", "prioritized", "completed", "failed", "waiting-children"
]
#: The states a job list can show; ``paused`` jobs are the waiting ones of a paused queue and show
#: under ``waiting``.
LIST_STATES: tuple[JobState, ...] = get_args(JobState)

#: The states BullMQ counts for the queue stats.
COUNTED_STATES: tuple[JobState, ...] = (
    "waiting", "active", "delayed", "prioritized", "completed", "failed"
)  # fmt: skip
#: The columns of the queue stats: the counted states, then ``paused`` (the waiting and
#: prioritized jobs of a paused queue; 0 while it runs).
COUNT_STATES: tuple[str, ...] = (*COUNTED_STATES, "paused")

#: The states a job ends in (kept for inspection, retried or cleaned from there).
FinalState = Literal["completed", "failed"]
FINAL_STATES: tuple[FinalState, ...] = get_args(FinalState)


def check_state(state: str) -> JobState:
    """``state`` when a job list can show it; ``ValueError`` naming the valid ones otherwise."""
    for known in LIST_STATES:
        if state == known:
            return known
    raise ValueError(f"unknown job state {state!r}; valid: {', '.join(LIST_STATES)}")
