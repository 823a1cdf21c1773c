"""Which company a job belongs to and who may see it: the reserved company field of a job's data,
the per-company job index in Redis (and its Lua scripts), and the viewer scope of the admin layer.

A job's company is written into its data under :data:`COMPANY_FIELD`, a name no payload field can
have (pydantic fields never start with ``_``), so Node BullMQ producers can stamp it too: they add
``"_ilsCompany": <id>`` to the data and ``ZADD <prefix>:ils:company:<id>:<queue> <ms> <job id>``
(see :mod:`ils.queue.keys`). Handlers never see the field: :func:`without_company` drops it before
the payload is validated. A job without it is system work, visible to the platform operator alone.
Every field starting with :data:`RESERVED_PREFIX` is ours in the same way (a flow parent's
``_ilsFlow``, a batch callback's ``_ilsBatch``, see :mod:`ils.queue.flows`).

The index makes a company's lists and counts read only that company's jobs. BullMQ removes jobs
on its own (retention, ``clean``), so entries outlive their jobs; readers and writers prune entries
whose job hash is gone, once they are older than :data:`INDEX_GRACE_MS` (an entry is written just
before its job, so a younger one may be a job being added right now).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

from bullmq import Job, Queue

from ils.errors import PermissionDenied
from ils.queue import keys
from ils.queue.heartbeat import now_ms

COMPANY_FIELD = "_ilsCompany"
#: The start of the data fields ILS Jobs reserves (no payload field can have it).
RESERVED_PREFIX = "_ils"
INDEX_GRACE_MS = 60_000
#: How many of an index's oldest entries a write checks for jobs BullMQ has removed.
PRUNE_ON_WRITE = 20

# KEYS[1] the company's index of one queue; ARGV[1] job id, ARGV[2] now (ms), ARGV[3] the queue's
# key base ("<prefix>:<queue>:"), ARGV[4] prune entries added before this (ms) whose job is gone,
# ARGV[5] how many of the oldest entries to check for that.
INDEX_JOB_LUA = """
redis.call("ZADD", KEYS[1], ARGV[2], ARGV[1])
local before = tonumber(ARGV[4])
local oldest = redis.call("ZRANGE", KEYS[1], 0, tonumber(ARGV[5]) - 1, "WITHSCORES")
for i = 1, #oldest, 2 do
  if tonumber(oldest[i + 1]) < before and redis.call("EXISTS", ARGV[3] .. oldest[i]) == 0 then
    redis.call("ZREM", KEYS[1], oldest[i])
  end
end
return 1
"""

# KEYS[1] the company's index of one queue; ARGV[1] the queue's key base ("<prefix>:<queue>:"),
# ARGV[2] prune entries added before this (ms) whose job is gone, ARGV[3] the state wanted ("" for
# counts of every state), ARGV[4] offset, ARGV[5] page size. Returns {state, count, ...} for
# counts, else {total, id, id, ...}, newest first. Never reads a job's data; each state costs:
# - BullMQ's sorted sets (completed, failed, delayed, prioritized, waiting-children): ZINTERCARD
#   or ZINTER with the index, bounded by the smaller of the two;
# - active (a short list, bounded by the workers' concurrency): each id looked up in the index;
# - waiting (the wait and paused lists): the smaller side is walked, the lists (ids only, looked
#   up in the index) or the index (its ids looked up in the other states), with ZMSCORE in chunks.
COMPANY_JOBS_LUA = """
local index = KEYS[1]
local base = ARGV[1]
local before = tonumber(ARGV[2])
local wanted = ARGV[3]
local offset = tonumber(ARGV[4])
local limit = tonumber(ARGV[5])
local ZSETS = {"completed", "failed", "delayed", "prioritized", "waiting-children"}
local total = 0
local page = {}
local function take(id)
  if total >= offset and #page < limit then page[#page + 1] = id end
  total = total + 1
end
-- The members of ``ids`` found in sorted set ``key``, as a table id -> true, asked in chunks
-- (one ZMSCORE per thousand ids rather than one ZSCORE each).
local function members(key, ids)
  local found = {}
  for first = 1, #ids, 1000 do
    local last = math.min(first + 999, #ids)
    local scores = redis.call("ZMSCORE", key, unpack(ids, first, last))
    for i = 1, last - first + 1 do
      if scores[i] then found[ids[first + i - 1]] = true end
    end
  end
  return found
end
local function walk_list(key)
  local ids = redis.call("LRANGE", base .. key, 0, -1)
  local mine = members(index, ids)
  for _, id in ipairs(ids) do
    if mine[id] then take(id) end
  end
end
local function walk_waiting()
  local queued = redis.call("LLEN", base .. "wait") + redis.call("LLEN", base .. "paused")
  if queued <= redis.call("ZCARD", index) then
    walk_list("wait")
    walk_list("paused")
    return
  end
  -- The index is shorter: its jobs in no other state wait (or are gone: no job hash).
  local ids = redis.call("ZREVRANGE", index, 0, -1)
  local elsewhere = {}
  for _, set in ipairs(ZSETS) do
    for id in pairs(members(base .. set, ids)) do elsewhere[id] = true end
  end
  for _, id in ipairs(redis.call("LRANGE", base .. "active", 0, -1)) do elsewhere[id] = true end
  for _, id in ipairs(ids) do
    if not elsewhere[id] and redis.call("EXISTS", base .. id) == 1 then take(id) end
  end
end
-- Prune a bounded number of the oldest entries (BullMQ removes the oldest jobs first).
local oldest = redis.call("ZRANGE", index, 0, 99, "WITHSCORES")
for i = 1, #oldest, 2 do
  if tonumber(oldest[i + 1]) < before and redis.call("EXISTS", base .. oldest[i]) == 0 then
    redis.call("ZREM", index, oldest[i])
  end
end
if wanted == "" then
  local out = {}
  for _, set in ipairs(ZSETS) do
    out[#out + 1] = set
    out[#out + 1] = redis.call("ZINTERCARD", 2, index, base .. set)
  end
  walk_list("active")
  out[#out + 1] = "active"
  out[#out + 1] = total
  total = 0
  offset = 0
  limit = 0
  walk_waiting()
  out[#out + 1] = "waiting"
  out[#out + 1] = total
  return out
end
if wanted == "active" then
  walk_list("active")
elseif wanted == "waiting" then
  walk_waiting()
else
  local ids = redis.call("ZINTER", 2, index, base .. wanted, "WEIGHTS", 0, 1)
  for i = #ids, 1, -1 do take(ids[i]) end
end
table.insert(page, 1, total)
return page
"""


@dataclass(frozen=True)
class ViewerScope:
    """Who is looking: every company (``company_id`` None: the platform operator, the CLI) or
    one company, with or without its jobs' personal fields masked. Derived once per request
    from the user by the web layer; the admin layer applies it to every read and action."""

    company_id: int | None
    mask: bool = False

    @property
    def all_companies(self) -> bool:
        return self.company_id is None

    def sees(self, company_id: int | None) -> bool:
        """Whether a job of ``company_id`` (None: system work) is visible in this scope."""
        return self.company_id is None or company_id == self.company_id

    def require_all_companies(self, what: str) -> None:
        """Raise :class:`PermissionDenied` unless this scope spans every company (queue-wide
        actions touch every company's jobs)."""
        if self.company_id is not None:
            raise PermissionDenied(f"{what} acts on every company's jobs: platform_admin only")


#: The platform operator's scope: every company, nothing masked (the CLI acts as this).
PLATFORM = ViewerScope(company_id=None, mask=False)


def job_company(data: Any) -> int | None:
    """The company stamped in a job's data, or None (system work, or not a valid stamp)."""
    if isinstance(data, Mapping):
        value = data.get(COMPANY_FIELD)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def with_company(data: Mapping[str, Any], company_id: int | None) -> dict[str, Any]:
    """``data`` stamped with ``company_id`` (unchanged when None)."""
    out = dict(data)
    if company_id is not None:
        out[COMPANY_FIELD] = company_id
    return out


def without_company(data: Any) -> Any:
    """``data`` without the company stamp and the other reserved fields (what handlers and
    viewers see as the payload)."""
    if isinstance(data, Mapping) and any(str(k).startswith(RESERVED_PREFIX) for k in data):
        return {k: v for k, v in data.items() if not str(k).startswith(RESERVED_PREFIX)}
    return data


def new_job_id() -> str:
    """A job id for a company's job added without one: it must be known before the add, which
    writes the index entry first."""
    return uuid.uuid4().hex


@functools.lru_cache(maxsize=64)
def script_of(client: Any, source: str) -> Any:
    """The client's registered script, made once: registering hashes the source every time, and
    the index script runs on every job an order enqueues."""
    return client.register_script(source)


async def index_job(queue: Queue, job_id: str, company_id: int) -> None:
    """Write ``job_id`` into its company's index of ``queue``, and prune a few dead entries."""
    now = now_ms()
    script = script_of(queue.client, INDEX_JOB_LUA)
    key = keys.company_jobs(queue.prefix, queue.name, company_id)
    await script(
        keys=[key],
        args=[job_id, now, keys.job_hash_prefix(queue), now - INDEX_GRACE_MS, PRUNE_ON_WRITE],
    )


async def index_many(queue: Queue, job_ids: Collection[str], company_id: int) -> None:
    """Write many of a company's jobs of ``queue`` into its index in one command (a flow's or a
    batch's; the writes of single jobs prune the index as they go)."""
    if job_ids:
        now = now_ms()
        key = keys.company_jobs(queue.prefix, queue.name, company_id)
        await queue.client.zadd(key, dict.fromkeys(job_ids, now))


async def add_job(queue: Queue, name: str, data: Mapping[str, Any], opts: dict[str, Any]) -> Job:
    """Add a job to BullMQ, indexed under the company stamped in ``data`` (if any) first.

    The index entry goes first so that no moment exists where the company's job is in Redis but
    not in its list; an entry whose add then fails is pruned once its grace has passed.
    """
    company = job_company(data)
    if company is not None:
        if not opts.get("jobId"):
            opts = {**opts, "jobId": new_job_id()}
        await index_job(queue, str(opts["jobId"]), company)
    return await queue.add(name, dict(data), opts)


async def unindex_job(queue: Queue, job_id: str, company_id: int | None) -> None:
    """Drop a removed job's index entry at once (readers would prune it later anyway)."""
    if company_id is not None:
        await queue.client.zrem(keys.company_jobs(queue.prefix, queue.name, company_id), job_id)


async def company_counts(queue: Queue, company_id: int) -> dict[str, int]:
    """The company's jobs in ``queue`` per state (waiting, active and BullMQ's sorted sets)."""
    script = script_of(queue.client, COMPANY_JOBS_LUA)
    key = keys.company_jobs(queue.prefix, queue.name, company_id)
    raw = await script(
        keys=[key], args=[keys.job_hash_prefix(queue), now_ms() - INDEX_GRACE_MS, "", 0, 0]
    )
    return {str(raw[i]): int(raw[i + 1]) for i in range(0, len(raw), 2)}


async def company_page(
    queue: Queue, company_id: int, state: str, start: int, size: int
) -> tuple[int, list[str]]:
    """The company's jobs of ``queue`` in ``state``: how many, and the ids of one page."""
    script = script_of(queue.client, COMPANY_JOBS_LUA)
    key = keys.company_jobs(queue.prefix, queue.name, company_id)
    raw = await script(
        keys=[key],
        args=[keys.job_hash_prefix(queue), now_ms() - INDEX_GRACE_MS, state, start, size],
    )
    return int(raw[0]), [str(job_id) for job_id in raw[1:]]
