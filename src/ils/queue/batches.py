"""One batch's progress, as the admin layer shows it: how many of its jobs are in each state,
and its callback's state, found by the batch id (the callback's job id, see
:mod:`ils.queue.flows`) in whichever queue holds the callback, within the viewer's scope.

The counts come from the callback's own children sets (:mod:`ils.queue.children`): finished jobs
are counted there even after BullMQ removed them by retention, so a batch larger than a queue's
``keep_completed_count`` still adds up. Pending jobs are placed in their state by one Lua script.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from bullmq import Queue
from redis.exceptions import RedisError

from ils.errors import BrokerUnavailable, JobNotFound
from ils.queue import keys
from ils.queue.children import BATCH_FIELD
from ils.queue.states import FINAL_STATES
from ils.queue.tenancy import PLATFORM, ViewerScope, job_company, script_of

#: Past this many pending jobs the script counts them without placing each in its state.
PLACE_AT_MOST = 20_000

# KEYS[1] the callback's job hash; ARGV[1] place pending jobs in their states when at most this
# many. Returns {state, count, ...}: completed and failed (the finished children, kept in the
# callback's sets), pending, and with the pending ones placed: waiting (wait list or
# prioritized), active, delayed (a delay or a retry's backoff), waiting-children. A child's job
# key is "<queue key>:<job id>"; each queue's active list is read once.
BATCH_COUNTS_LUA = """
local parent = KEYS[1]
local pending = redis.call("SCARD", parent .. ":dependencies")
local failed = redis.call("HLEN", parent .. ":failed")
failed = failed + redis.call("ZCARD", parent .. ":unsuccessful")
local out = {
  "completed", redis.call("HLEN", parent .. ":processed"), "failed", failed, "pending", pending,
}
if pending > tonumber(ARGV[1]) then return out end
local counts = {waiting = 0, active = 0, delayed = 0, ["waiting-children"] = 0}
local actives = {}
for _, key in ipairs(redis.call("SMEMBERS", parent .. ":dependencies")) do
  local qkey, id = string.match(key, "^(.*):([^:]+)$")
  if qkey then
    local active = actives[qkey]
    if not active then
      active = {}
      for _, a in ipairs(redis.call("LRANGE", qkey .. ":active", 0, -1)) do active[a] = true end
      actives[qkey] = active
    end
    local state = "waiting"
    if active[id] then
      state = "active"
    elseif redis.call("ZSCORE", qkey .. ":delayed", id) then
      state = "delayed"
    elseif redis.call("ZSCORE", qkey .. ":waiting-children", id) then
      state = "waiting-children"
    end
    counts[state] = counts[state] + 1
  end
end
for _, state in ipairs({"waiting", "active", "delayed", "waiting-children"}) do
  out[#out + 1] = state
  out[#out + 1] = counts[state]
end
return out
"""


@dataclass(frozen=True)
class BatchView:
    """A batch: its jobs per state, its callback (queue, name, state), whether it is done."""

    id: str
    queue: str
    callback: str
    callback_state: str
    company_id: int | None
    total: int
    counts: dict[str, int]
    done: bool
    created: int
    finished_on: int | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BatchReader:
    """Finds and counts batches among the queues that ``queue(name)`` returns."""

    def __init__(self, queue: Callable[[str], Queue], names: Sequence[str]) -> None:
        self.queue = queue
        self.names = tuple(names)

    async def get(self, batch_id: str, scope: ViewerScope = PLATFORM) -> BatchView:
        """The batch ``batch_id``; :class:`JobNotFound` when there is none (or it is another
        company's, or BullMQ has removed its callback by retention). Raises
        :class:`BrokerUnavailable`."""
        try:
            found = await self._find(batch_id)
            if found is None:
                raise JobNotFound(f"no batch {batch_id}")
            q, data, raw = found
            if not scope.sees(job_company(data)):
                raise JobNotFound(f"no batch {batch_id}")
            state = str(await q.getJobState(batch_id))
            script = script_of(q.client, BATCH_COUNTS_LUA)
            flat = await script(keys=[keys.job_hash(q, batch_id)], args=[PLACE_AT_MOST])
        except RedisError as exc:
            raise BrokerUnavailable(f"cannot read batch {batch_id}: {exc}") from exc
        counts = {str(flat[i]): int(flat[i + 1]) for i in range(0, len(flat), 2)}
        mark = data.get(BATCH_FIELD) or {}
        total = int(mark.get("total") or counts["completed"] + counts["failed"] + counts["pending"])
        finished = raw.get("finishedOn")
        return BatchView(
            id=batch_id,
            queue=q.name,
            callback=str(raw.get("name")),
            callback_state=state,
            company_id=job_company(data),
            total=total,
            counts=counts,
            done=state in FINAL_STATES,
            created=int(raw.get("timestamp") or 0),
            finished_on=int(finished) if finished else None,
        )

    async def _find(self, batch_id: str) -> tuple[Queue, dict[str, Any], dict[str, Any]] | None:
        """The queue holding the callback ``batch_id``, its data and its hash's fields, or
        None."""
        if not batch_id or ":" in batch_id:
            return None
        queues = [self.queue(name) for name in self.names]
        fields = ("data", "name", "timestamp", "finishedOn")
        rows = await asyncio.gather(  # each on its queue's server
            *(q.client.hmget(keys.job_hash(q, batch_id), *fields) for q in queues)
        )
        for q, (raw, name, timestamp, finished) in zip(queues, rows, strict=True):
            data = _json(raw)
            if isinstance(data, dict) and BATCH_FIELD in data:
                return q, data, {"name": name, "timestamp": timestamp, "finishedOn": finished}
        return None


def _json(raw: Any) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
