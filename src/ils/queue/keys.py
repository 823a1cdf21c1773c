"""Redis key names ILS Jobs adds beside BullMQ's own (which BullMQ documents and owns).

All live under the configured prefix, so one prefix isolates one deployment (or one test):

| key | type | what |
|---|---|---|
| ``<prefix>:ils:workers`` | sorted set | worker id -> last heartbeat (ms) |
| ``<prefix>:ils:worker:<id>`` | hash | host, pid, queues, started, last_seen, counts; expires |
"""

from __future__ import annotations


def workers_index(prefix: str) -> str:
    return f"{prefix}:ils:workers"


def worker_record(prefix: str, worker_id: str) -> str:
    return f"{prefix}:ils:worker:{worker_id}"


def all_keys_pattern(prefix: str) -> str:
    """Every key of one prefix, ours and BullMQ's (for tests and ``ils queue obliterate``)."""
    return f"{prefix}:*"
