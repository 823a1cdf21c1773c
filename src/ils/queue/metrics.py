"""Job outcome counters and duration histograms, kept in Redis so every process reads the same.

Each worker process records what its jobs did in memory (:class:`MetricsRecorder`) and adds it
to Redis every :data:`FLUSH_INTERVAL_S` in one pipeline, so the cost per job is a dictionary
update, not a round trip; a flush writes one field per series and outcome, bucket and sum (a
series' run count is the sum of its buckets, not a field of its own), and sets an hour's
throughput key's expiry once a minute. What is kept (key names in :mod:`ils.queue.keys`):

- per queue and minute, jobs completed, failed for good and failed-to-be-retried (the
  dashboard's charts and the admin API's throughput), for 25 hours;
- per queue and job name, totals of the same and a histogram of run times (``/metrics``);
- per queue, the jobs the stalled-job check handed back to wait (:mod:`ils.queue.stalls`).

Job names come from whoever enqueued the job (a Node producer too), so a name that is not a
registered job type is counted as :data:`UNKNOWN_NAME`: the hashes and ``/metrics`` hold one series
per registered type and queue, whatever names producers send (issue 16, defect 5).

:class:`MetricsReader` is the admin side: throughput series and the totals for Prometheus.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Literal, Protocol

import redis.asyncio as aredis
from redis.exceptions import RedisError

from ils.queue import keys
from ils.queue.states import FINAL_STATES, FinalState
from ils.queue.waiting_age import oldest_waiting_s

log = logging.getLogger(__name__)

#: How a run ends: in a final state, or retried (a failed attempt with attempts left).
Outcome = FinalState | Literal["retried"]
OUTCOMES: tuple[Outcome, ...] = (*FINAL_STATES, "retried")
#: Upper bounds (seconds) of the run-time histogram's buckets; ``+Inf`` is implied.
DURATION_BUCKETS_S: tuple[float, ...] = (
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0,
)  # fmt: skip
THROUGHPUT_TTL_S = 25 * 3600
#: How often a worker process adds its counts to Redis (and the longest they wait there).
FLUSH_INTERVAL_S = 2.0
#: The name under which runs of jobs whose name is not a registered type are counted.
UNKNOWN_NAME = "unknown"
#: Whether ``(queue, name)`` is a registered job type.
Known = Callable[[str, str], bool]


class JobNames(Protocol):
    """What knows the registered job types (:class:`ils.queue.registry.Registry`)."""

    def knows(self, queue: str, name: str) -> bool: ...


def series_name(known: Known | None, queue: str, name: str) -> str:
    """``name`` when it is a registered type of ``queue`` (or no registry is given), else
    :data:`UNKNOWN_NAME`."""
    if known is None or known(queue, name):
        return name
    return UNKNOWN_NAME


def bucket_label(seconds: float) -> str:
    """The histogram bucket a run of ``seconds`` falls in (``"+Inf"`` past the last bound)."""
    for bound in DURATION_BUCKETS_S:
        if seconds <= bound:
            return repr(bound)
    return "+Inf"


@dataclass
class _Pending:
    """What was recorded since the last flush. A run is one count under (queue, name, outcome,
    minute, bucket), expanded into the hashes' fields only when flushed."""

    runs: Counter[tuple[str, str, Outcome, int, str]] = field(default_factory=Counter)
    seconds: defaultdict[tuple[str, str], float] = field(default_factory=lambda: defaultdict(float))
    stalled: Counter[str] = field(default_factory=Counter)

    def __bool__(self) -> bool:
        return bool(self.runs or self.stalled)

    def merge(self, other: _Pending) -> None:
        self.runs.update(other.runs)
        for series, total in other.seconds.items():
            self.seconds[series] += total
        self.stalled.update(other.stalled)


@dataclass
class _Fields:
    """One flush's increments, by hash field."""

    minutes: Counter[tuple[str, int, Outcome]] = field(default_factory=Counter)
    totals: Counter[str] = field(default_factory=Counter)
    buckets: Counter[str] = field(default_factory=Counter)
    seconds: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))

    @classmethod
    def of(cls, pending: _Pending, known: Known | None) -> _Fields:
        out = cls()
        for (queue, name, outcome, minute, bucket), n in pending.runs.items():
            series = f"{queue}|{series_name(known, queue, name)}"
            out.minutes[(queue, minute, outcome)] += n
            out.totals[f"{series}|{outcome}"] += n
            out.buckets[f"{series}|{bucket}"] += n
        for (queue, name), total in pending.seconds.items():
            out.seconds[f"{queue}|{series_name(known, queue, name)}|sum"] += total
        return out


class MetricsRecorder:
    """The counters of one process, added to Redis by :meth:`flush` (run by :meth:`run`);
    ``known`` (the registry's) folds unregistered job names into :data:`UNKNOWN_NAME`."""

    def __init__(
        self,
        client: aredis.Redis,
        prefix: str,
        interval_s: float = FLUSH_INTERVAL_S,
        known: Known | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.interval_s = interval_s
        self.known = known
        self._pending = _Pending()
        # The throughput keys whose expiry this process set, and the minute it did. An hour's key
        # is written only during that hour, so an expiry set at most a minute before its last
        # write still outlasts it by ~25 h; setting it again each minute bounds what a key
        # deleted meanwhile (and written again without expiry) can outlive it.
        self._expiring: set[tuple[str, int]] = set()

    def record_stalled(self, queue: str, n: int = 1) -> None:
        """``n`` jobs of ``queue`` handed back to wait by the stalled-job check."""
        self._pending.stalled[queue] += n

    def record(
        self, queue: str, name: str, outcome: Outcome, duration_s: float, at: float | None = None
    ) -> None:
        """One run of a job: how it ended and how long the handler took."""
        minute = int((time.time() if at is None else at) // 60)
        pending = self._pending
        pending.runs[(queue, name, outcome, minute, bucket_label(duration_s))] += 1
        pending.seconds[(queue, name)] += max(duration_s, 0.0)

    async def flush(self) -> None:
        """Add what was recorded since the last flush; on a Redis error it is kept for the next."""
        pending, self._pending = self._pending, _Pending()
        if not pending:
            return
        fields = _Fields.of(pending, self.known)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                touched: set[str] = set()
                for (queue, minute, outcome), n in fields.minutes.items():
                    key = keys.throughput(self.prefix, queue, minute // 60)
                    pipe.hincrby(key, keys.throughput_field(minute, outcome), n)
                    touched.add(key)
                stamp = int(time.time() // 60)
                for key in touched:
                    if (key, stamp) not in self._expiring:
                        pipe.expire(key, THROUGHPUT_TTL_S)
                for name, n in fields.totals.items():
                    pipe.hincrby(keys.job_totals(self.prefix), name, n)
                durations = keys.job_durations(self.prefix)
                for name, n in fields.buckets.items():
                    pipe.hincrby(durations, name, n)
                for name, total in fields.seconds.items():
                    pipe.hincrbyfloat(durations, name, total)
                for queue, n in pending.stalled.items():
                    pipe.hincrby(keys.stalled_totals(self.prefix), queue, n)
                await pipe.execute()
            self._expiring = {(key, stamp) for key in touched}
        except RedisError as exc:
            log.debug("job metrics not written, kept for the next flush: %s", exc)
            pending.merge(self._pending)
            self._pending = pending

    async def run(self) -> None:
        """Flush every ``interval_s`` until cancelled; the owner flushes once more on stop."""
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()


@dataclass(frozen=True)
class MinutePoint:
    """Outcomes of one queue during one minute (``minute`` is epoch seconds at its start)."""

    minute: int
    completed: int
    failed: int
    retried: int


@dataclass(frozen=True)
class SeriesTotals:
    """Everything ``/metrics`` shows of one queue and job name."""

    queue: str
    name: str
    outcomes: dict[str, int]
    buckets: list[tuple[str, int]]  # cumulative, in bucket order, ending with "+Inf"
    count: int
    seconds: float


class MetricsReader:
    """Reads the counters of one prefix: throughput series and totals per job type.
    ``client`` is called at each read (the broker connects on first use) with a queue's name for
    that queue's own keys (its server), None for the counters (the deployment's server);
    ``queue_prefix`` gives a queue's BullMQ key prefix (default ``prefix``; hash-tagged on a
    Redis Cluster)."""

    def __init__(
        self,
        client: Callable[[str | None], aredis.Redis],
        prefix: str,
        names: JobNames | None = None,
        queue_prefix: Callable[[str], str] | None = None,
    ) -> None:
        self.client = client
        self.prefix = prefix
        self.queue_prefix = queue_prefix or (lambda _queue: prefix)
        self.known: Known | None = names.knows if names is not None else None

    async def oldest_waiting(self, queues: Iterable[str]) -> dict[str, float]:
        """Per queue, the seconds its longest-waiting job has waited (0: none waits)."""
        names = list(queues)
        ages = await asyncio.gather(
            *(oldest_waiting_s(self.client(q), self.queue_prefix(q), q) for q in names)
        )
        return dict(zip(names, ages, strict=True))

    async def stalled(self) -> dict[str, int]:
        """Per queue, the jobs the stalled-job check has handed back to wait so far."""
        raw = await self.client(None).hgetall(keys.stalled_totals(self.prefix))
        return {str(q): int(n) for q, n in raw.items()}

    async def throughput(
        self, queue: str, minutes: int = 60, now: float | None = None
    ) -> list[MinutePoint]:
        """One point per minute, oldest first, ending with the current (partial) minute."""
        last = int((time.time() if now is None else now) // 60)
        first = last - minutes + 1
        hours = range(first // 60, last // 60 + 1)
        async with self.client(None).pipeline(transaction=False) as pipe:
            for hour in hours:
                pipe.hgetall(keys.throughput(self.prefix, queue, hour))
            results = await pipe.execute()
        counts: Counter[tuple[int, str]] = Counter()
        for raw in results:
            for fieldname, value in raw.items():
                counts[keys.parse_throughput_field(str(fieldname))] += int(value)
        return [
            MinutePoint(m * 60, counts[(m, "completed")], counts[(m, "failed")],
                        counts[(m, "retried")])
            for m in range(first, last + 1)
        ]  # fmt: skip

    async def totals(self) -> list[SeriesTotals]:
        """Per queue and job name: outcome totals and the run-time histogram."""
        async with self.client(None).pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.job_totals(self.prefix))
            pipe.hgetall(keys.job_durations(self.prefix))
            jobs, durations = await pipe.execute()
        outcomes: dict[tuple[str, str], dict[str, int]] = {}
        for fieldname, value in jobs.items():
            queue, name, outcome = str(fieldname).split("|", 2)
            series = (queue, series_name(self.known, queue, name))
            counts = outcomes.setdefault(series, dict.fromkeys(OUTCOMES, 0))
            counts[outcome] = counts.get(outcome, 0) + int(value)
        raw: dict[tuple[str, str], dict[str, float]] = {}
        for fieldname, value in durations.items():
            queue, name, part = str(fieldname).split("|", 2)
            parts = raw.setdefault((queue, series_name(self.known, queue, name)), {})
            parts[part] = parts.get(part, 0.0) + float(value)
        out = []
        for series in sorted(set(outcomes) | set(raw)):
            parts = raw.get(series, {})
            running, buckets = 0, []
            for label in [*(repr(b) for b in DURATION_BUCKETS_S), "+Inf"]:
                running += int(parts.get(label, 0))
                buckets.append((label, running))
            seconds = parts.get("sum", 0.0)
            out.append(
                SeriesTotals(
                    queue=series[0],
                    name=series[1],
                    outcomes=outcomes.get(series, dict.fromkeys(OUTCOMES, 0)),
                    buckets=buckets,
                    count=running,  # every run adds to one bucket (older writers' "count": same)
                    seconds=seconds if math.isfinite(seconds) else 0.0,
                )
            )
        return out
