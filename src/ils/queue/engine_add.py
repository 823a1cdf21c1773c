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

A bulk's pipeline goes over the server's ``bulk`` client when the adder has one
(:meth:`ils.queue.queues.Queues.adder`): its connections read without a timer per reply (one is a
sixth of a bulk add's CPU), and the pipeline as a whole must be answered within
:func:`pipeline_timeout`, else it fails as a connection error (the connection dropped, the jobs
then handled as any unconfirmed chunk).

On a Redis Cluster (a ``RedisCluster`` client) a pipeline loads no script itself: the scripts are
loaded on every node before the first pipeline, and again (the pipeline sent once more) when a
node answers that it lost them; job ids are fixed before, so a job sent twice is added once.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import msgpack  # type: ignore[import-untyped]
from bullmq import Queue
from bullmq.backoffs import Backoffs
from bullmq.job import optsEncodeMap
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ils.queue import keys
from ils.queue.broker import READ_TIMEOUT_S
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


def pipeline_timeout(commands: int) -> float:
    """How long a bulk pipeline of ``commands`` may take to be answered: a reply's timeout, and a
    millisecond more a command (a chunk of 1,000 adds: 6 s)."""
    return READ_TIMEOUT_S + commands / 1000


def json_data(data: Any) -> str:
    """``data`` as BullMQ's Python port encodes it for Redis."""
    return json.dumps(data, separators=(",", ":"), allow_nan=False)


class EngineAdder:
    """Adds jobs to one queue with its engine's scripts; caches what repeats across adds.
    ``bulk_client``: the client of :meth:`add_many`'s pipelines (None: the queue's own)."""

    def __init__(self, queue: Queue, bulk_client: Any = None) -> None:
        self.queue = queue
        self.bulk_client = bulk_client
        scripts = queue.backend.scripts
        self.scripts = scripts
        self.commands = scripts.commands
        self.key_prefix: str = scripts.keys[""]
        # Encoded once: the client sends bytes as they are (the same bytes it would encode).
        self.script_keys = {
            name: [scripts.keys[k].encode() for k in names] for name, names in _SCRIPT_KEYS.items()
        }
        self._prepared: dict[int, tuple[Mapping[str, Any], Prepared, int | None]] = {}
        self._templates: dict[
            int, tuple[Mapping[str, Any], Mapping[str, Any], dict[str, Any], str, Any]
        ] = {}
        self.cluster = isinstance(queue.client, RedisCluster)
        self._loaded = False  # on a cluster: the scripts loaded on every node

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

    def call(
        self, name: str, encoded: str, prepared: Prepared, stamp: int | None, pipe: Any = None
    ) -> Any:
        """Run (or, with ``pipe``, queue) the add script: an awaitable either way."""
        command = self.commands[prepared.script]
        return command(
            keys=prepared.keys, args=self.args(name, encoded, prepared, stamp), client=pipe
        )

    async def evalsha(self, name: str, encoded: str, prepared: Prepared, stamp: int | None) -> Any:
        """Run the add script as its own ``__call__`` runs it (``EVALSHA``, loaded again if the
        server lost it), without that call's per-call imports and copies."""
        script = self.commands[prepared.script]
        args = self.args(name, encoded, prepared, stamp)
        client = self.queue.client
        try:
            return await client.evalsha(script.sha, len(prepared.keys), *prepared.keys, *args)
        except NoScriptError:
            script.sha = await client.script_load(script.script)
            return await client.evalsha(script.sha, len(prepared.keys), *prepared.keys, *args)

    def index(self, pipe: Any, job_id: str, company_id: int) -> Any:
        """Queue on ``pipe`` (awaitable) the company index entry of ``job_id`` (as
        :func:`ils.queue.tenancy.index_job` writes it), before its add."""
        now = now_ms()
        script = script_of(self.queue.client, INDEX_JOB_LUA)
        key = keys.company_jobs(self.queue.prefix, self.queue.name, company_id)
        args = [job_id, now, keys.job_hash_prefix(self.queue), now - INDEX_GRACE_MS, PRUNE_ON_WRITE]
        return script(keys=[key], args=args, client=pipe)

    async def add(
        self, name: str, encoded: str, opts: Mapping[str, Any], company_id: int | None
    ) -> str:
        """Add one job (its data already ``encoded``); its id. A company's job is written into
        its index first, in the same round trip."""
        prepared, stamp = self.prepared(opts)
        if company_id is None:
            return self._job_id(await self.evalsha(name, encoded, prepared, stamp))

        async def stage(pipe: Any) -> None:
            await self.index(pipe, prepared.job_id, company_id)
            await self.call(name, encoded, prepared, stamp, pipe)

        results = await self._pipelined(stage, self.queue.client)
        for result in results:
            if isinstance(result, BaseException):
                raise result
        return self._job_id(results[-1])

    async def _pipelined(
        self, stage: Callable[[Any], Awaitable[None]], client: Any, commands: int = 0
    ) -> list[Any]:
        """What ``stage`` queues on a pipeline of ``client``, sent in one round trip: each
        command's answer or error. With ``commands`` (a bulk on its ``bulk`` client), all of it
        within :func:`pipeline_timeout`. On a cluster the scripts are loaded first (see the
        module's docstring)."""
        for again in (False, True):
            if self.cluster and (again or not self._loaded):
                client = self.queue.client
                for script in (
                    *(self.commands[n] for n in _SCRIPT_KEYS),
                    script_of(client, INDEX_JOB_LUA),
                ):
                    await client.script_load(script.script)  # on every primary node
                self._loaded = True
            results = await self._execute(stage, client, commands)
            if not (self.cluster and any(isinstance(r, NoScriptError) for r in results)):
                break
        return results

    @staticmethod
    async def _execute(
        stage: Callable[[Any], Awaitable[None]], client: Any, commands: int
    ) -> list[Any]:
        async with client.pipeline(transaction=False) as pipe:
            await stage(pipe)
            if not commands:
                return list(await pipe.execute(raise_on_error=False))
            bound = pipeline_timeout(commands)
            try:
                async with asyncio.timeout(bound):
                    # Cancelled mid-send or mid-read, redis-py drops the connection: no reply
                    # is left on it for the next pipeline to read.
                    return list(await pipe.execute(raise_on_error=False))
            except TimeoutError:
                raise RedisTimeoutError(
                    f"a pipeline of {commands} commands not answered within {bound:g} s"
                ) from None

    async def add_many(self, jobs: Sequence[BulkJob]) -> list[str | BaseException]:
        """Add ``jobs`` in one pipeline (one round trip), each company's index entries (one
        ``ZADD`` per company) first; each job's id, or the error Redis answered for it. A
        connection error is raised: then any of the jobs may or may not be in Redis, which is
        why a bulk's job ids are fixed before (adding one again adds nothing).

        Not a MULTI/EXEC: it would hold Redis for the whole chunk, and make the client read a
        ``QUEUED`` answer per job; a job is added atomically by its script either way."""
        if not jobs:
            return []
        by_company: dict[int, dict[str, int]] = {}
        now = now_ms()
        for one in jobs:
            if one.company_id is not None:
                by_company.setdefault(one.company_id, {})[one.prepared.job_id] = now

        async def stage(pipe: Any) -> None:
            for company, members in by_company.items():
                pipe.zadd(keys.company_jobs(self.queue.prefix, self.queue.name, company), members)
            # Staged as the scripts' own __call__ stages them (EVALSHA, the script registered
            # with the pipeline, which loads it if the server lacks it: a cluster's pipeline
            # does not, _pipelined does), minus its per-call work.
            staged: set[Any] = getattr(pipe, "scripts", set())
            for one in jobs:
                prepared = one.prepared
                script = self.commands[prepared.script]
                staged.add(script)
                args = self.args(one.name, one.encoded, prepared, one.stamp)
                pipe.execute_command(
                    "EVALSHA", script.sha, len(prepared.keys), *prepared.keys, *args
                )

        if self.bulk_client is None:
            results = await self._pipelined(stage, self.queue.client)
        else:
            results = await self._pipelined(stage, self.bulk_client, len(by_company) + len(jobs))
        out: list[str | BaseException] = []
        for result in results[len(by_company) :]:
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
    """A :class:`BulkJob` for ``adder``'s queue; a company's job must carry its ``jobId``. With
    ``job_id``, ``opts`` are options shared by many jobs (:meth:`EngineAdder.prepare_with_id`)
    and the job's are them with this id."""
    prepared, stamp = adder.prepare(opts) if job_id is None else adder.prepare_with_id(opts, job_id)
    if company_id is not None and not prepared.job_id:
        raise ValueError("a company's job is indexed by its id: give it a jobId")
    return BulkJob(name, encoded, prepared, stamp, company_id)
