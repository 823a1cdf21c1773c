"""Redis key names ILS Jobs adds beside BullMQ's own (which BullMQ documents and owns).

All live under the configured prefix, so one prefix isolates one deployment (or one test):

- ``<prefix>:ils:workers`` (sorted set): worker id -> last heartbeat (ms);
- ``<prefix>:ils:worker:<id>`` (hash): host, pid, queues, started, last_seen, counts; expires;
- ``<prefix>:ils:tp:<queue>:<hour>`` (hash): ``<minute>:<outcome>`` -> jobs that minute
  (completed, failed, retried); expires after 25 h;
- ``<prefix>:ils:metrics:jobs`` (hash): ``<queue>|<name>|<outcome>`` -> jobs so far;
- ``<prefix>:ils:metrics:duration`` (hash): ``<queue>|<name>|<bucket>`` -> runs, and ``|sum``
  (seconds) and ``|count`` (runs): the run-time histogram;
- ``<prefix>:ils:cancel`` (hash): ``<queue>:<job id>`` -> when an admin asked to cancel it (ms);
- ``<prefix>:ils:company:<company id>:<queue>`` (sorted set): job id -> when it was added (ms): the
  company's jobs of one queue, written just before each add (by ``ils.queue.tenancy.add_job``, or
  by a Node producer with ``ZADD``), pruned of jobs BullMQ has removed by the readers and writers
  of :mod:`ils.queue.tenancy` (whose Lua scripts document their contracts). The job's company
  itself is the ``_ilsCompany`` field of its data; the index only makes a company's lists fast.
"""

from __future__ import annotations


def workers_index(prefix: str) -> str:
    return f"{prefix}:ils:workers"


def worker_record(prefix: str, worker_id: str) -> str:
    return f"{prefix}:ils:worker:{worker_id}"


def throughput(prefix: str, queue: str, hour: int) -> str:
    """Per-minute outcome counts of one queue for one hour (``hour`` = epoch seconds // 3600)."""
    return f"{prefix}:ils:tp:{queue}:{hour}"


def job_totals(prefix: str) -> str:
    return f"{prefix}:ils:metrics:jobs"


def job_durations(prefix: str) -> str:
    return f"{prefix}:ils:metrics:duration"


def cancel_requests(prefix: str) -> str:
    return f"{prefix}:ils:cancel"


def company_jobs(prefix: str, queue: str, company_id: int) -> str:
    """One company's jobs of one queue (see :mod:`ils.queue.tenancy`)."""
    return f"{prefix}:ils:company:{company_id}:{queue}"
