"""What a test prints when a batch's callback did not count every child: for each child found in
none of its parent's finished sets, its job hash (without its data), its state and its entries in
the queue's event stream, so a rare failure explains itself in the CI log."""

from __future__ import annotations

from bullmq import Queue

from ils.queue import keys


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


async def unaccounted_children(queue: Queue, batch_id: str, total: int) -> str:
    """The children ``<batch_id>-0`` … ``-<total - 1>`` of the callback ``batch_id`` on
    ``queue`` that its ``:processed`` and ``:failed`` hashes do not hold, described."""
    client = queue.client
    finished = {_text(k) for k in await client.hkeys(keys.job_processed(queue, batch_id))}
    finished |= {_text(k) for k in await client.hkeys(keys.job_failed_children(queue, batch_id))}
    pending = await client.smembers(keys.job_dependencies(queue, batch_id))
    lines = [f"callback {batch_id}: {len(finished)} finished, {len(pending)} pending"]
    events = await client.xrange(queue.keys["events"], "-", "+")
    for n in range(total):
        child = f"{batch_id}-{n}"
        key = keys.job_hash(queue, child)
        if key in finished:
            continue
        fields = {_text(k): _text(v) for k, v in (await client.hgetall(key)).items()}
        fields.pop("data", None)
        lines.append(f"child {child}: state {await queue.getJobState(child)}, hash {fields}")
        for event_id, entry in events:
            named = {_text(k): _text(v) for k, v in entry.items()}
            if named.get("jobId") == child:
                lines.append(f"  event {_text(event_id)}: {named}")
    return "\n".join(lines)
