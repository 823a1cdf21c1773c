"""Adding jobs through the engine's own add scripts, without building its ``Job`` object: the lean
path of single enqueues and the pipelined path of bulk ones and of the outbox relay.

What reaches Redis is exactly what ``bullmq.Queue.add`` sends (so Node BullMQ producers, workers
and dashboards see the same jobs): the same script (``addStandardJob``, ``addDelayedJob`` or
``addPrioritizedJob``, chosen as ``Scripts.addJob`` chooses), the same keys, and arguments built
as ``Scripts.addJobArgs`` builds them from the options ``Job.__init__`` would hold (the queue's
default options under the job's, ``attempts``/``delay`` defaulted to 0, the backoff normalised,
the long option names encoded). ``tests/test_engine_add.py`` compares both, byte for byte.
What is saved: the ``Job`` object, a second JSON encoding (the size check reads the one sent),
preparing and packing options that repeat (a job type's defaults), and, for a company's job, a
round trip (its index entry is written in the same pipeline, just before the add).

The adds go over the server's ``bounded`` client (:meth:`ils.queue.queues.Queues.adder`), whose
connections set no timer of their own on a write or a read (redis-py's are a sixth of a bulk
add's CPU, and a task a write): each add or pipeline as a whole must be answered within
:func:`ils.queue.add_bound.pipeline_timeout`, else it fails as a connection error (the
connection dropped; a bulk's chunk is then handled as any chunk Redis did not confirm).

No pipeline asks ``SCRIPT EXISTS`` first (a round trip each): a server that lost the scripts
answers ``NOSCRIPT``, the scripts are loaded (on a Redis Cluster: on every node, and once before
the first pipeline) and the pipeline is sent once more; every job of a pipeline has its id fixed
before, so a job sent twice is added once.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack  # type: ignore[import-untyped]
from bullmq import Queue
from bullmq.backoffs import Backoffs
from bullmq.job import optsEncodeMap
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError

from ils.queue import keys
from ils.queue.add_bound import bounded
from ils.queue.heartbeat import now_ms
from ils.queue.tenancy import INDEX_GRACE_MS, INDEX_JOB_LUA, PRUNE_ON_WRITE, script_of

# Each script's keys, by the names of the queue's key map, in the order Scripts.add*Job asks them.
# Redis key names (some are named like job states, which tests/test_states.py keeps to
# ils.queue.states; these are not lists of states), hence written as words.
_SCRIPT_KEY_WORDS = {
    "addStandardJob": "wait paused meta id completed delayed active events marker",
    "addDelayedJob": "marker meta id delayed completed events",
    "addPrioritizedJob": "marker meta id prioritized delayed completed active events pc",
}
_SCRIPT_KEYS = {script: tuple(words.split()) for script, words in _SCRIPT_KEY_WORDS.items()}
_PREPARED_CACHE_MAX = 64
# The parent options a job may have one of, at most (in the order Job.__init__ names them).
_EXCLUSIVE_ORDER = (
    "removeDependencyOnFailure", "failParentOnFailure", "continueParentOnFailure",
    "ignoreDependencyOnFailure",
)  # fmt: skip
_EXCLUSIVE = frozenset(_EXCLUSIVE_ORDER)
# The option names the engine shortens before packing (``bullmq.job.optsEncodeMap``).
_ENCODED = frozenset(optsEncodeMap)


#: Options shared by many jobs, and what they give (:meth:`EngineAdder.prepare_with_id`).
_Template = tuple[Mapping[str, Any], Mapping[str, Any], dict[str, Any], str, Any]


@dataclass(slots=True)
class Prepared:
    """One job's options as the add script takes them: which script, its keys, the packed options,
    the job id (``""``: BullMQ makes one), the deduplication key and the script's last argument
    when it is not the job's timestamp (a delayed job's delay, a prioritized job's priority)."""

    script: str
    keys: list[bytes]
    packed_opts: bytes
    job_id: str
    dedup_key: str | None
    last: Any | None


def json_data(data: Any) -> str:
    """``data`` as BullMQ's Python port encodes it for Redis."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


class EngineAdder:
    """Adds jobs to one queue with its engine's scripts; caches what repeats across adds.
    ``client``: the client the adds go over (None: the queue's own)."""

    def __init__(self, queue: Queue, client: Any = None) -> None:
        self.queue = queue
        self.client = queue.client if client is None else client
        scripts = queue.backend.scripts
        self.scripts = scripts
        self.commands = scripts.commands
        self.key_prefix: str = scripts.keys[""]
        # Encoded once: the client sends bytes as they are (the same bytes it would encode).
        self.script_keys = {
            name: [scripts.keys[k].encode() for k in names] for name, names in _SCRIPT_KEYS.items()
        }
        self._prepared: dict[int, tuple[Mapping[str, Any], Prepared, int | None]] = {}
        self._templates: dict[int, _Template] = {}
        self.cluster = isinstance(queue.client, RedisCluster)
        self._loaded = False  # the scripts loaded by this adder (on a cluster: on every node)

    def prepare(self, opts: Mapping[str, Any]) -> tuple[Prepared, int | None]:
        """The add of a job with ``opts``, and the timestamp it asks for (None: now)."""
        merged, final, script, last = self._final(opts)
        return self._prepared_of(merged, final, script, last), merged.get("timestamp")

    def _final(self, opts: Mapping[str, Any]) -> tuple[Mapping[str, Any], dict[str, Any], str, Any]:
        """``opts`` under the queue's defaults; the options as ``Job.__init__`` holds them; the
        add script; its last argument when not the timestamp."""
        merged = {**self.queue.jobsOpts, **opts} if self.queue.jobsOpts else opts
        if not _EXCLUSIVE.isdisjoint(merged) and (
            len(enabled := [o for o in _EXCLUSIVE_ORDER if merged.get(o)]) > 1
        ):
            # Job.__init__'s check, word for word.
            joined = ", ".join(enabled)
            raise ValueError(f"The following options cannot be used together: {joined}")
        # Job.__init__'s options, in its order: defaults, the job's, the backoff normalised.
        backoff = Backoffs.normalize(merged.get("backoff"))
        final: dict[str, Any] = {"attempts": 0, "delay": 0, **merged, "backoff": backoff}
        if final.get("delay"):
            return merged, final, "addDelayedJob", final["delay"]
        if final.get("priority"):
            return merged, final, "addPrioritizedJob", final["priority"]
        return merged, final, "addStandardJob", None

    def _prepared_of(
        self, merged: Mapping[str, Any], final: dict[str, Any], script: str, last: Any
    ) -> Prepared:
        dedup = merged.get("deduplication")
        dedup_id = dedup.get("id") if dedup and isinstance(dedup, dict) else None
        return Prepared(
            script=script,
            keys=self.script_keys[script],
            packed_opts=self._pack(final),
            job_id=str(merged.get("jobId") or ""),
            dedup_key=f"{self.key_prefix}de:{dedup_id}" if dedup_id else None,
            last=last,
        )

    def prepare_with_id(self, opts: Mapping[str, Any], job_id: str) -> tuple[Prepared, int | None]:
        """:meth:`prepare` of ``{**opts, "jobId": job_id}``: what ``opts`` (shared by many jobs,
        kept by identity, so never changed after a call) gives is worked out once, and only each
        job's options with its id packed."""
        hit = self._templates.get(id(opts))
        if hit is None or hit[0] is not opts:
            hit = (opts, *self._final(opts))
            if len(self._templates) >= _PREPARED_CACHE_MAX:
                self._templates.clear()
            self._templates[id(opts)] = hit
        _, merged, final, script, last = hit
        if "jobId" in merged or "backoff" not in merged:
            # The id would not be the options' last key (or replaces one): the whole way.
            return self.prepare({**opts, "jobId": job_id})
        with_id = {**merged, "jobId": job_id}
        prepared = self._prepared_of(with_id, {**final, "jobId": job_id}, script, last)
        return prepared, merged.get("timestamp")

    def _pack(self, final: dict[str, Any]) -> bytes:
        if _ENCODED.isdisjoint(final):  # no long option name to shorten: packed as it is
            return bytes(msgpack.packb(final))
        return bytes(msgpack.packb(self.scripts.encodeOpts(final)))

    def prepared(self, opts: Mapping[str, Any]) -> tuple[Prepared, int | None]:
        """:meth:`prepare`, remembered for option dicts that are passed again (a job type's
        defaults, shared by the producer): kept by identity, so never changed after a call."""
        hit = self._prepared.get(id(opts))
        if hit is not None and hit[0] is opts:
            return hit[1], hit[2]
        prepared, stamp = self.prepare(opts)
        if len(self._prepared) >= _PREPARED_CACHE_MAX:
            self._prepared.clear()
        self._prepared[id(opts)] = (opts, prepared, stamp)
        return prepared, stamp

    def args(
        self, name: str, encoded: str, prepared: Prepared, stamp: int | None = None
    ) -> list[Any]:
        """The script's arguments, as ``Scripts.addJobArgs`` plus the last one."""
        timestamp = round(time.time() * 1000) if stamp is None else stamp
        packed_args = msgpack.packb(
            [
                self.key_prefix,
                prepared.job_id,
                name,
                timestamp,
                None,  # parent key
                None,  # parent dependencies key
                None,  # parent
                None,  # repeat job key
                prepared.dedup_key,
            ],
            use_bin_type=True,
        )
        last = timestamp if prepared.last is None else prepared.last
        return [packed_args, encoded, prepared.packed_opts, last]

    def _stage_add(
        self, pipe: Any, name: str, encoded: str, prepared: Prepared, stamp: int | None
    ) -> None:
        """Queue the add script on ``pipe`` (``EVALSHA``: a server without the script answers
        ``NOSCRIPT`` for it, and :meth:`_pipelined` loads it and sends the pipeline again)."""
        script = self.commands[prepared.script]
        args = self.args(name, encoded, prepared, stamp)
        pipe.execute_command("EVALSHA", script.sha, len(prepared.keys), *prepared.keys, *args)

    def _stage_index(self, pipe: Any, job_id: str, company_id: int) -> None:
        """Queue on ``pipe`` the company index entry of ``job_id`` (as
        :func:`ils.queue.tenancy.index_job` writes it), before its add."""
        now = now_ms()
        script = script_of(self.queue.client, INDEX_JOB_LUA)
        key = keys.company_jobs(self.queue.prefix, self.queue.name, company_id)
        args = [job_id, now, keys.job_hash_prefix(self.queue), now - INDEX_GRACE_MS, PRUNE_ON_WRITE]
        pipe.execute_command("EVALSHA", script.sha, 1, key, *args)

    async def ensure_scripts(self) -> None:
        """Load the scripts unless this adder did already (a stream of chunks would otherwise
        be answered ``NOSCRIPT`` throughout by a server that never ran them)."""
        if not self._loaded:
            await self._load_scripts()

    async def _load_scripts(self) -> None:
        """Load the add scripts and the index script (on a cluster: on every primary node),
        bounded as the adds are (the client sets no timeout of its own)."""
        scripts = (
            *(self.commands[n] for n in _SCRIPT_KEYS),
            script_of(self.queue.client, INDEX_JOB_LUA),
        )
        async with bounded(len(scripts)):
            for script in scripts:
                await self.client.script_load(script.script)
        self._loaded = True

    async def add(
        self,
        name: str,
        encoded: str,
        opts: Mapping[str, Any],
        company_id: int | None,
        job_id: str | None = None,
    ) -> str:
        """Add one job (its data already ``encoded``); its id. With ``job_id``, ``opts`` are
        options shared by many jobs and the job's are them with this id
        (:meth:`prepare_with_id`). A company's job is written into its index first, in the same
        round trip (its id is fixed: see :meth:`_pipelined`)."""
        if job_id is None:
            prepared, stamp = self.prepared(opts)
        else:
            prepared, stamp = self.prepare_with_id(opts, job_id)
        if company_id is not None:
            return await self._add_indexed(name, encoded, prepared, stamp, company_id)
        script = self.commands[prepared.script]
        call = (
            script.sha,
            len(prepared.keys),
            *prepared.keys,
            *self.args(name, encoded, prepared, stamp),
        )
        try:
            async with bounded(1):
                return self._job_id(await self.client.evalsha(*call))
        except NoScriptError:  # the server was restarted or flushed
            await self._load_scripts()
            async with bounded(1):
                return self._job_id(await self.client.evalsha(*call))

    async def _add_indexed(
        self, name: str, encoded: str, prepared: Prepared, stamp: int | None, company_id: int
    ) -> str:
        def stage(pipe: Any) -> None:
            self._stage_index(pipe, prepared.job_id, company_id)
            self._stage_add(pipe, name, encoded, prepared, stamp)

        results = await self._pipelined(stage, 2)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return self._job_id(results[-1])

    async def _pipelined(self, stage: Callable[[Any], None], commands: int) -> list[Any]:
        """The ``commands`` that ``stage`` queues on a pipeline, sent in one round trip and
        answered within :func:`~ils.queue.add_bound.pipeline_timeout`: each one's answer or
        error. No ``SCRIPT EXISTS`` goes first (a round trip per pipeline): when the server
        answers ``NOSCRIPT`` (it was restarted or flushed), the scripts are loaded and the whole
        pipeline is sent once more, which adds nothing twice because every job of a pipeline has
        its id fixed. On a cluster the scripts are loaded on every node before the first
        pipeline."""
        for again in (False, True):
            if again or (self.cluster and not self._loaded):
                await self._load_scripts()
            async with self.client.pipeline(transaction=False) as pipe:
                stage(pipe)
                # Cancelled mid-send or mid-read (the bound), redis-py drops the connection: no
                # reply is left on it for the next pipeline to read.
                async with bounded(commands):
                    results: list[Any] = list(await pipe.execute(raise_on_error=False))
            if not any(isinstance(r, NoScriptError) for r in results):
                break
        return results

    async def add_many(self, jobs: Sequence[BulkJob]) -> list[str | BaseException]:
        """Add ``jobs`` in one pipeline (one round trip), each company's index entries (one
        ``ZADD`` per company) first; each job's id, or the error Redis answered for it. A
        connection error is raised: then any of the jobs may or may not be in Redis, which is
        why a bulk's job ids are fixed before (adding one again adds nothing).

        Not a MULTI/EXEC: it would hold Redis for the whole chunk, and make the client read a
        ``QUEUED`` answer per job; a job is added atomically by its script either way."""
        if not jobs:
            return []
        commands, indexed = self.commands_of(jobs)

        def stage(pipe: Any) -> None:
            for command in commands:
                pipe.execute_command(*command)

        return self.job_ids(await self._pipelined(stage, len(commands)), indexed)

    def commands_of(self, jobs: Sequence[BulkJob]) -> tuple[list[tuple[Any, ...]], int]:
        """The commands that add ``jobs``: one ``ZADD`` per company (its index entries), then
        each job's ``EVALSHA``; and how many ``ZADD`` come first."""
        by_company: dict[int, dict[str, int]] = {}
        now = now_ms()
        for one in jobs:
            if one.company_id is not None:
                by_company.setdefault(one.company_id, {})[one.prepared.job_id] = now
        commands: list[tuple[Any, ...]] = []
        for company, members in by_company.items():
            key = keys.company_jobs(self.queue.prefix, self.queue.name, company)
            pairs = [part for member, score in members.items() for part in (score, member)]
            commands.append(("ZADD", key, *pairs))
        for one in jobs:
            prepared = one.prepared
            sha = self.commands[prepared.script].sha
            args = self.args(one.name, one.encoded, prepared, one.stamp)
            commands.append(("EVALSHA", sha, len(prepared.keys), *prepared.keys, *args))
        return commands, len(by_company)

    def job_ids(self, results: Sequence[Any], skip: int) -> list[str | BaseException]:
        """Each job's id from the answers to :meth:`commands_of`'s commands (the first ``skip``
        are the index entries'), or the error Redis answered for it."""
        out: list[str | BaseException] = []
        for result in results[skip:]:
            if isinstance(result, BaseException):
                out.append(result)
                continue
            try:
                out.append(self._job_id(result))
            except TypeError as exc:
                out.append(exc)
        return out

    def _job_id(self, result: Any) -> str:
        if isinstance(result, int) and result < 0:
            raise self.scripts.finishedErrors({"code": result, "command": "addJob"})
        return result.decode() if isinstance(result, bytes) else str(result)


@dataclass(slots=True)
class BulkJob:
    """One job of a bulk add: its name, encoded data, prepared options, timestamp and company."""

    name: str
    encoded: str
    prepared: Prepared
    stamp: int | None
    company_id: int | None


def bulk_job(
    adder: EngineAdder,
    name: str,
    encoded: str,
    opts: Mapping[str, Any],
    company_id: int | None,
    job_id: str | None = None,
) -> BulkJob:
    """A :class:`BulkJob` for ``adder``'s queue; it must carry its ``jobId`` (a pipeline may be
    sent twice, and a company's job is indexed by its id). With ``job_id``, ``opts`` are options
    shared by many jobs (:meth:`EngineAdder.prepare_with_id`) and the job's are them with this
    id."""
    prepared, stamp = adder.prepare(opts) if job_id is None else adder.prepare_with_id(opts, job_id)
    if not prepared.job_id:
        raise ValueError("a job added in bulk must have its id fixed: give it a jobId")
    return BulkJob(name, encoded, prepared, stamp, company_id)
