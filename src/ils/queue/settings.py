"""Settings of the job system: the six queues' specs and the settings a producer, worker or
admin needs, as validated models.

Where the values come from (``ils.toml``, the environment, options) is :mod:`ils.settings`'s
business: its root settings object is a :class:`Settings`, so this layer takes it as is.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ils.errors import ConfigurationError
from ils.queue import keys

QUEUE_NAMES: tuple[str, ...] = ("email", "pdf", "notification", "ai", "oma", "scheduled")

BackoffKind = Literal["exponential", "fixed", "exponential_jitter"]
# What an enqueue does when Redis is unreachable: ``spool`` writes the job to the outbox (the
# relay delivers it when Redis returns), ``inline`` runs it now in-process, ``raise`` raises.
FallbackPolicy = Literal["spool", "inline", "raise"]

DAY_S = 24 * 3600

#: The URL schemes a Redis URL may have: one server (plain, TLS, or a Unix socket). A Redis
#: Cluster is named by one of its nodes' URLs and ``redis_cluster`` (docs/production-redis.md).
REDIS_SCHEMES = ("redis", "rediss", "unix")


def check_redis_url(url: str | None) -> str | None:
    """``url`` when it names one Redis server; :class:`ValueError` (the settings' error)
    naming the accepted schemes otherwise, and saying so for a cluster URL."""
    if url is None:
        return None
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if "cluster" in scheme:
        raise ValueError(
            f"a Redis Cluster URL ({scheme}://) is not a Redis URL: give one node's redis:// "
            "URL and set redis_cluster (ILS_REDIS_CLUSTER=true)"
        )
    if scheme not in REDIS_SCHEMES:
        raise ValueError(f"a Redis URL starts with {', '.join(s + '://' for s in REDIS_SCHEMES)}")
    return url


class QueueSpec(BaseModel):
    """How one queue runs: concurrency, rate limit, retries, locks, retention, fallback."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(1, ge=1, le=1000)
    rate_max: int | None = Field(None, ge=1, description="jobs per rate window; None = no limit")
    rate_duration_ms: int = Field(60_000, ge=1)
    attempts: int = Field(3, ge=1, le=100)
    backoff: BackoffKind = "exponential_jitter"
    backoff_delay_ms: int = Field(2_000, ge=0)
    lock_duration_ms: int = Field(30_000, ge=1_000)
    stalled_interval_ms: int = Field(30_000, ge=500)
    # A job is failed after this many stalls: enough to outlive workers killed in a row while
    # they held it (at BullMQ's 1, the chaos suite's kill loop failed emails for good), few
    # enough that a job which itself kills its worker stops being retried.
    max_stalled_count: int = Field(5, ge=0)
    # BullMQ blocks this long on an empty queue; with a limiter or a global concurrency it must
    # be short (guard 4). Both can be set at run time by an admin, so the default is short always.
    drain_delay_s: float | None = Field(None, gt=0, le=10)
    keep_completed_age_s: int = Field(DAY_S, ge=0)
    keep_completed_count: int = Field(10_000, ge=0)
    keep_failed_age_s: int = Field(7 * DAY_S, ge=0)
    keep_failed_count: int = Field(50_000, ge=0)
    # Failed jobs keep their payload and stack trace in Redis; past this many bytes of them the
    # oldest are removed (their dead letters stay in the database). None: no byte budget.
    keep_failed_bytes: int | None = Field(64 * 1024 * 1024, ge=1)
    fallback: FallbackPolicy = "raise"
    # The Redis server this queue's jobs live on, when not the deployment's (issue 21: queues
    # shard over servers). Every part that touches the queue uses it (ils.queue.queues).
    redis_url: str | None = Field(
        None, description="None: the deployment's Redis (REDIS_URL, else the embedded server)"
    )

    # On a Redis Cluster (``redis_cluster``), the hash tag of this queue's keys: queues of one tag
    # share one slot (so one node), which the queues of a flow must. None: the queue's own name.
    cluster_tag: str | None = Field(
        None, min_length=1, max_length=64, pattern=r"^[a-z0-9_-]+$",
        description="Redis Cluster only: the hash tag of the queue's keys; None: the queue's name",
    )  # fmt: skip

    valid_redis_url = field_validator("redis_url")(check_redis_url)

    @property
    def effective_drain_delay_s(self) -> float:
        if self.drain_delay_s is not None:
            return self.drain_delay_s
        return 1.0

    @property
    def stall_recovery_bound_s(self) -> float:
        """Upper bound on how long a job held by a dead worker waits to be recovered (guard 9)."""
        return (self.lock_duration_ms + self.stalled_interval_ms) / 1000


# Each queue's values where they differ from QueueSpec's defaults, and its fallback (the choice
# that matters when Redis is down), stated for every queue.
DEFAULT_QUEUES: dict[str, QueueSpec] = {
    "email": QueueSpec(concurrency=5, rate_max=100, fallback="spool"),
    "pdf": QueueSpec(concurrency=3, rate_max=20, lock_duration_ms=60_000, fallback="spool"),
    "notification": QueueSpec(concurrency=10, rate_max=200, fallback="spool"),
    "ai": QueueSpec(
        concurrency=2,
        rate_max=10,
        attempts=2,
        backoff_delay_ms=5_000,
        lock_duration_ms=120_000,
        stalled_interval_ms=60_000,
        fallback="raise",
    ),
    "oma": QueueSpec(concurrency=2, fallback="raise"),
    "scheduled": QueueSpec(concurrency=1, lock_duration_ms=60_000, fallback="raise"),
}


class Settings(BaseModel):
    """Everything a producer, worker or admin process needs (the root settings object,
    :class:`ils.settings.IlsSettings`, is one)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = Field(None, description="None: start or reuse the embedded server")
    # ``redis_url`` names a node of a Redis Cluster: every queue's keys carry its hash tag
    # (:meth:`queue_prefix`), so the queues spread over the cluster's nodes (issue 21).
    redis_cluster: bool = Field(False, description="redis_url is a node of a Redis Cluster")
    prefix: str = Field("bull", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    var_dir: Path = Path("var")
    embedded_port: int = Field(0, ge=0, le=65535, description="0: pick a free port once, keep it")
    shutdown_grace_s: float = Field(30.0, ge=0)
    heartbeat_interval_s: float = Field(10.0, gt=0)
    worker_restart_limit: int = Field(5, ge=0, description="restarts per queue before exiting")
    redis_wait_s: float | None = Field(
        None, description="how long a worker waits for Redis at start; None = forever"
    )
    # The web comes first: the workers running inside a web process stop taking jobs while its
    # event loop lags more than this, and take them again once it is back under the resume level.
    loop_lag_pause_ms: float = Field(50.0, gt=0, le=60_000)
    loop_lag_resume_ms: float | None = Field(
        None, gt=0, description="None: half of loop_lag_pause_ms"
    )
    # A job's data (JSON, as stored) may be at most this big: enqueue refuses bigger ones, and a
    # worker fails bigger ones a foreign producer added (issue 16, defect 6).
    max_payload_bytes: int = Field(256 * 1024, ge=1024)
    imports: tuple[str, ...] = ()
    queues: dict[str, QueueSpec] = Field(default_factory=lambda: dict(DEFAULT_QUEUES))

    valid_redis_url = field_validator("redis_url")(check_redis_url)

    @model_validator(mode="after")
    def _all_queues_present(self) -> Settings:
        missing = [q for q in QUEUE_NAMES if q not in self.queues]
        if missing:
            raise ValueError(f"queues missing: {', '.join(missing)}")
        resume = self.loop_lag_resume_ms
        if resume is not None and resume >= self.loop_lag_pause_ms:
            raise ValueError(
                "loop_lag_resume_ms must be below loop_lag_pause_ms "
                f"({self.loop_lag_resume_ms} >= {self.loop_lag_pause_ms})"
            )
        if self.redis_cluster:
            self._check_cluster()
        return self

    def _check_cluster(self) -> None:
        if self.redis_url is None:
            raise ValueError("redis_cluster needs redis_url: one node of the Redis Cluster")
        if urlsplit(self.redis_url).path.strip("/") not in ("", "0"):
            raise ValueError("a Redis Cluster has database 0 only: end redis_url with /0")
        own = [q for q in QUEUE_NAMES if self.queues[q].redis_url is not None]
        if own:
            raise ValueError(
                f"on a Redis Cluster no queue has a server of its own ({', '.join(own)} has a "
                "redis_url): the cluster spreads the queues; group them with cluster_tag"
            )

    @property
    def effective_loop_lag_resume_ms(self) -> float:
        if self.loop_lag_resume_ms is not None:
            return self.loop_lag_resume_ms
        return self.loop_lag_pause_ms / 2

    def queue(self, name: str) -> QueueSpec:
        check_queue_name(name)
        return self.queues[name]

    def server_url(self, queue: str) -> str | None:
        """The Redis URL queue ``queue`` lives on: its own ``redis_url``, else the
        deployment's (None: the embedded server)."""
        return self.queue(queue).redis_url or self.redis_url

    def cluster_tag(self, queue: str) -> str:
        """The hash tag of ``queue``'s keys on a Redis Cluster (its ``cluster_tag``, else its
        name)."""
        return self.queue(queue).cluster_tag or queue

    def queue_prefix(self, queue: str) -> str:
        """The prefix of ``queue``'s BullMQ keys (and of the ILS keys kept beside them):
        ``prefix``, or on a Redis Cluster ``<prefix>:{<tag>}``, so all of a queue's keys hash
        to one slot (a script or a flow may only touch keys of one slot) and queues of
        different tags spread over the nodes. A Node producer passes the same ``prefix``."""
        if not self.redis_cluster:
            return self.prefix
        return keys.tagged_prefix(self.prefix, self.cluster_tag(queue))

    @property
    def redis_dir(self) -> Path:
        return self.var_dir / "redis"


QUEUE_FIELDS = tuple(QueueSpec.model_fields)


def check_queue_name(name: str) -> None:
    """Raise :class:`ConfigurationError` with a suggestion unless ``name`` is one of the six."""
    if name not in QUEUE_NAMES:
        near = difflib.get_close_matches(name, QUEUE_NAMES, n=1, cutoff=0.5)
        hint = f"did you mean '{near[0]}'?" if near else f"valid: {', '.join(QUEUE_NAMES)}"
        raise ConfigurationError(f"unknown queue '{name}'; {hint}")
