"""The job states, declared once: BullMQ's names for where a job is, which of them a job list
shows, which the queue stats count, and which are final. Admin, browse, metrics, the web routes
and the dashboard all take their lists from here.

Beside BullMQ's: ``cancelled``, the state shown for a job an admin stopped while it ran. BullMQ
keeps such a job *completed*, its return value marked (:data:`CANCELLED_MARK`, see
:mod:`ils.queue.processing` for why); :func:`shown_state` is how every view names it.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

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
#: The states of a job a worker has taken: running, or ended.
TAKEN_STATES: tuple[JobState, ...] = ("active", *FINAL_STATES)


def check_state(state: str) -> JobState:
    """``state`` when a job list can show it; ``ValueError`` naming the valid ones otherwise."""
    for known in LIST_STATES:
        if state == known:
            return known
    raise ValueError(f"unknown job state {state!r}; valid: {', '.join(LIST_STATES)}")


#: The states a job can be cancelled in: every one but finished (``paused``: waiting in a paused
#: queue). Cancelling one not running yet removes it; an active one is asked to stop.
CANCELLABLE_STATES: tuple[str, ...] = (
    "waiting", "paused", "prioritized", "delayed", "waiting-children", "active"
)  # fmt: skip

#: The state a view shows for a completed job whose return value carries :data:`CANCELLED_MARK`.
CANCELLED = "cancelled"
#: The key of a cancelled job's return value: ``{"_ilsCancelled": {"reason": ..., "at": ms}}``;
#: the same key in a job's *data* asks the worker to end it cancelled without running it.
CANCELLED_MARK = "_ilsCancelled"


def cancelled_result(reason: str, at_ms: int) -> dict[str, Any]:
    """The return value a job stopped on request ends with (completed, not failed)."""
    return {CANCELLED_MARK: {"reason": reason, "at": at_ms}}


def cancel_reason(data: Any) -> str | None:
    """The reason a job was cancelled before it ran, when its data carries the mark (a flow's
    parent cancelled while it waited for its children, see :mod:`ils.queue.flow_cancel`): the
    worker ends such a job ``cancelled`` without running its handler."""
    mark = data.get(CANCELLED_MARK) if isinstance(data, dict) else None
    if isinstance(mark, dict):
        return str(mark.get("reason") or "cancelled")
    return None


def is_cancelled(return_value: Any) -> bool:
    """Whether a job's return value marks it cancelled."""
    return isinstance(return_value, dict) and isinstance(return_value.get(CANCELLED_MARK), dict)


def shown_state(state: str, return_value: Any) -> str:
    """BullMQ's ``state`` of a job, or ``cancelled`` for a completed job marked so."""
    return CANCELLED if state == "completed" and is_cancelled(return_value) else state
