"""Redis key names are built in one place, ils.queue.keys: no other module of src/ puts a key
together itself, and the fields keys.py builds read back as they were written."""

from __future__ import annotations

import ast
from pathlib import Path

from bullmq import Queue

from ils.queue import keys

SRC = Path(__file__).resolve().parents[1] / "src" / "ils"


def builds_a_key(node: ast.JoinedStr) -> bool:
    """An f-string that writes one of our key names, appends to a prefix with ``:``, or reads
    BullMQ's key prefix of a queue."""
    parts = node.values
    for i, part in enumerate(parts):
        if isinstance(part, ast.Constant) and isinstance(part.value, str):
            if "ils:" in part.value:
                return True
        elif isinstance(part, ast.FormattedValue):
            source = ast.unparse(part.value)
            after = parts[i + 1] if i + 1 < len(parts) else None
            text = after.value if isinstance(after, ast.Constant) else ""
            if "prefix" in source and isinstance(text, str) and text.startswith(":"):
                return True
            if isinstance(part.value, ast.Subscript) and source.split("[")[0].endswith(".keys"):
                return True
    return False


def test_no_module_but_keys_builds_a_redis_key():
    offenders = [
        f"{path.relative_to(SRC)}:{node.lineno}: {ast.unparse(node)}"
        for path in sorted(SRC.rglob("*.py"))
        if path != SRC / "queue" / "keys.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path)))
        if isinstance(node, ast.JoinedStr) and builds_a_key(node)
    ]
    assert offenders == []


def test_the_guard_sees_the_ways_keys_were_built():
    for source in ('f"{prefix}:ils:x"', 'f"{self.prefix}:other"', "f\"{q.keys['']}{job_id}\""):
        node = ast.parse(source, mode="eval").body
        assert isinstance(node, ast.JoinedStr) and builds_a_key(node), source
    assert not builds_a_key(ast.parse('f"{queue}|{name}"', mode="eval").body)  # type: ignore[arg-type]


def test_fields_read_back_as_written():
    assert keys.parse_cancel_field(keys.cancel_field("pdf", "order-42-sheet")) == (
        "pdf", "order-42-sheet"
    )  # fmt: skip
    assert keys.parse_throughput_field(keys.throughput_field(29_000_000, "failed")) == (
        29_000_000, "failed"
    )  # fmt: skip


def test_every_key_lives_under_the_prefix():
    prefix = "tp1"
    queue = Queue("pdf", {"connection": "redis://127.0.0.1:1", "prefix": prefix})
    names = [
        keys.workers_index(prefix),
        keys.worker_record(prefix, "host:1:abc"),
        keys.throughput(prefix, "pdf", 480_000),
        keys.job_totals(prefix),
        keys.job_durations(prefix),
        keys.cancel_requests(prefix),
        keys.company_jobs(prefix, "pdf", 7),
        keys.notifications_channel(prefix),
        keys.login_failures(prefix, "d1"),
        keys.login_ip_failures(prefix, "d2"),
        keys.quotas(prefix),
        keys.job_hash(queue, "j1"),
        keys.job_dependencies(queue, "j1"),
        keys.job_processed(queue, "j1"),
    ]
    assert all(name.startswith(f"{prefix}:") for name in names)
    assert len(set(names)) == len(names)
    assert keys.job_hash(queue, "j1") == "tp1:pdf:j1"
