"""The cap on a job's size: a job's data, as the JSON BullMQ stores, is at most
``max_payload_bytes`` (256 KiB by default), so a producer cannot fill Redis (which refuses writes
once full, with the embedded server's ``noeviction``) with a few huge jobs (issue 16, defect 6).

Checked where jobs enter: the producer's enqueue and flows (:class:`PayloadTooLarge`, nothing
enqueued), the outbox relay (the row stays in the outbox with that error), and the worker for jobs
a Node producer added (:mod:`ils.queue.undecodable` fails them once with the reason).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ils.errors import PayloadTooLarge


def payload_bytes(data: Any) -> int:
    """The size of ``data`` as BullMQ stores it (compact JSON, UTF-8)."""
    return len(json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode())


def check_payload_size(key: str, data: Any, limit: int) -> None:
    """Raise :class:`PayloadTooLarge` when ``data`` of job type ``key`` is over ``limit`` bytes."""
    size = payload_bytes(data)
    if size > limit:
        raise PayloadTooLarge(key, size, limit)


def encoded_size(data: Any, encoded: str) -> int:
    """:func:`payload_bytes` of ``data`` read from ``encoded``, its JSON as BullMQ's Python port
    sends it (ASCII, non-ASCII characters escaped): the same length when there were none."""
    return len(encoded) if "\\u" not in encoded else payload_bytes(data)


def check_encoded_size(key: str, data: Any, encoded: str, limit: int) -> None:
    """:func:`check_payload_size` for ``data`` already ``encoded`` (not encoded again)."""
    size = encoded_size(data, encoded)
    if size > limit:
        raise PayloadTooLarge(key, size, limit)


def check_tree_size(tree: Mapping[str, Any], limit: int) -> None:
    """:func:`check_payload_size` for every job of a flow (BullMQ's ``FlowJob`` shape)."""
    check_payload_size(f"{tree['queueName']}/{tree['name']}", tree.get("data", {}), limit)
    for child in tree.get("children") or ():
        check_tree_size(child, limit)
