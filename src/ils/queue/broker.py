"""Redis connections for ILS Jobs, built with the engine guards, and the broker health check.

Every client that BullMQ gets comes from here. Guard 1 (ARCHITECTURE.md): redis-py >= 8 times
reads out after 5 s, which breaks BullMQ's blocking waits, so worker connections never time out
reads and rely on TCP keepalive and health checks instead. BullMQ's own connection retries back
off up to 20 s per command, which would hold a worker long after Redis returns, so we hand BullMQ
ready-made clients with short retries and let the worker loop (and our supervisor) retry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, cast

import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import (
    BusyLoadingError,
    ClusterDownError,
    RedisClusterException,
    RedisClusterUnreachableError,
    RedisError,
    ResponseError,
)
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ils.errors import BrokerUnavailable, ConfigurationError
from ils.queue.background import BackgroundTask
from ils.queue.embedded import EmbeddedServer
from ils.queue.embedded_watch import EmbeddedWatch
from ils.queue.queues import Queues
from ils.queue.settings import QUEUE_NAMES, Settings

log = logging.getLogger(__name__)

Purpose = Literal["worker", "producer", "bounded", "admin"]

#: How long a ``producer`` or ``admin`` client waits for a reply: to fail fast, not hang a request.
READ_TIMEOUT_S = 5.0

# Errors that mean "Redis is not reachable right now" rather than "the command was wrong".
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    RedisConnectionError,
    RedisTimeoutError,
    BusyLoadingError,
    RedisClusterUnreachableError,  # no node of a Redis Cluster answers
    ClusterDownError,  # the cluster has marked a node failed: no slot is served until it is back
    ConnectionError,
    OSError,
    asyncio.TimeoutError,
)


def is_connection_error(exc: BaseException) -> bool:
    return isinstance(exc, CONNECTION_ERRORS)


def make_client(
    url: str, purpose: Purpose, name: str | None = None, cluster: bool = False
) -> aredis.Redis:
    """A redis-py asyncio client with the options the engine guards require.

    ``worker`` clients carry BullMQ's blocking waits: no read timeout (guard 1), keepalive and a
    health check instead. ``producer`` and ``admin`` clients fail fast so a request never hangs
    on a dead broker and the fallback policy can act. ``bounded`` clients send the job adds
    (:mod:`ils.queue.engine_add`): they fail as fast, but the caller bounds each add or pipeline
    as a whole, which saves redis-py a timer for every write and every reply read.
    ``cluster``: a client of the Redis Cluster ``url`` is a node of, with the same options for
    each node's connections.
    """
    options = client_options(purpose, name)
    if cluster:
        # redis-py's cluster client takes the commands, scripts and pipelines ILS and BullMQ
        # send (each routed to its key's node); it is typed as the one-server client it stands in
        # for, which bullmq takes too.
        return cast(aredis.Redis, RedisCluster.from_url(url, **options))
    return aredis.from_url(url, **options)


def client_options(purpose: Purpose, name: str | None) -> dict[str, Any]:
    """The options of :func:`make_client`'s clients for ``purpose``."""
    common = {
        "decode_responses": True,
        "socket_keepalive": True,
        "health_check_interval": 15,
        "retry_on_error": [RedisConnectionError, RedisTimeoutError, BusyLoadingError],
        "client_name": name,
        # No CLIENT SETINFO on connect: one command fewer for the ACL users to be granted, and
        # one Redis before 7.2 does not know (docs/production-redis.md).
        "driver_info": None,
    }
    if purpose == "worker":
        return {
            "socket_timeout": None,
            "socket_connect_timeout": 5,
            "retry": Retry(ExponentialBackoff(cap=1.0, base=0.1), 3),
            **common,
        }
    return {
        "socket_timeout": None if purpose == "bounded" else READ_TIMEOUT_S,
        "socket_connect_timeout": 1,
        "retry": Retry(ExponentialBackoff(cap=0.2, base=0.05), 1),
        **common,
    }


#: What a company's view of the broker's health holds besides whether it answers.
COMPANY_HEALTH = frozenset({"latency_ms"})


@dataclass(frozen=True)
class BrokerHealth:
    reachable: bool
    latency_ms: float | None
    version: str | None
    memory_used_bytes: int | None
    memory_used_human: str | None
    connected_clients: int | None
    error: str | None = None
    maxmemory_bytes: int | None = None  # 0: no limit
    maxmemory_policy: str | None = None  # BullMQ needs ``noeviction``

    @classmethod
    def of(cls, latency_ms: float, info: dict[str, Any]) -> BrokerHealth:
        """A server that answered a ping in ``latency_ms`` and ``INFO`` with ``info``."""
        version = info.get("valkey_version") or info.get("redis_version")
        return cls(
            reachable=True,
            latency_ms=round(latency_ms, 3),
            version=str(version) if version else None,
            memory_used_bytes=int(info.get("used_memory", 0)),
            memory_used_human=str(info.get("used_memory_human", "")),
            connected_clients=int(info.get("connected_clients", 0)),
            maxmemory_bytes=int(info.get("maxmemory", 0)),
            maxmemory_policy=str(info.get("maxmemory_policy", "")) or None,
        )

    @classmethod
    def unreachable(cls, exc: BaseException) -> BrokerHealth:
        return cls(False, None, None, None, None, None, error=str(exc))

    def entry(
        self, server: str, default: bool, queues: Sequence[str], whole: bool
    ) -> dict[str, Any]:
        """One server of the health views: ``server`` (named only in the ``whole`` view), whether
        it is the deployment's, its queues, whether it answers and :meth:`shown`."""
        where = {"server": server if whole else None, "default": default}
        return {**where, "queues": list(queues), "redis": self.reachable, **self.shown(whole)}

    def shown(self, whole: bool = True) -> dict[str, Any]:
        """The fields as the health views show them, ``reachable`` aside (they call it redis).
        Not ``whole`` (a company's view): only :data:`COMPANY_HEALTH`, the others None — the
        server's make-up is the platform's, and its error text may name hosts."""
        out = {k: v for k, v in asdict(self).items() if k != "reachable"}
        if not whole:
            out = {k: v if k in COMPANY_HEALTH else None for k, v in out.items()}
            if not self.reachable:
                out["error"] = "Redis is unreachable"
        return out


class Broker:
    """Where Redis is, how to connect to it, and whether it answers.

    With ``settings.redis_url`` unset the embedded server is started (or reused) when a client
    first needs its URL; :meth:`close` releases it so the last process out stops it. A queue may
    live on a server of its own (its ``redis_url``: queues sharded over servers, issue 21):
    ``queue=`` picks that server, None the deployment's, which also keeps what is shared by every
    queue (heartbeats, metrics, cancel requests, the live channel, rate limits). ``queues`` holds
    the process's bullmq ``Queue`` objects (:class:`~ils.queue.queues.Queues`), closed here too.

    With ``settings.redis_cluster`` the URL is a node of a Redis Cluster and every client is a
    cluster client: each queue's keys live on the node of its hash tag's slot
    (:meth:`~ils.queue.settings.Settings.queue_prefix`).
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._embedded: EmbeddedServer | None = None
        self._url: str | None = settings.redis_url
        self._admins: dict[str, aredis.Redis] = {}
        self._single: set[str] = set()  # URLs checked not to be a Redis Cluster
        self._watch: EmbeddedWatch | None = None
        self._watch_task: BackgroundTask | None = None
        self.cluster = settings.redis_cluster
        self.queues = Queues(
            settings, self.url_for, lambda url, purpose: make_client(url, purpose, "ils-queues",
                                                                     self.cluster)
        )  # fmt: skip

    @property
    def embedded(self) -> bool:
        return self.settings.redis_url is None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = self._start_embedded()
        return self._url

    def url_for(self, queue: str | None = None) -> str:
        """The URL of ``queue``'s server (its own ``redis_url``, never embedded), else of the
        deployment's."""
        own = self.settings.queue(queue).redis_url if queue is not None else None
        return own or self.url

    def servers(self) -> dict[str, tuple[str, ...]]:
        """Each server's URL with the queues on it, the deployment's first (even with none)."""
        out: dict[str, tuple[str, ...]] = {self.url: ()}
        for name in QUEUE_NAMES:
            url = self.url_for(name)
            out[url] = (*out.get(url, ()), name)
        return out

    def _start_embedded(self) -> str:
        self._embedded = EmbeddedServer(self.settings.redis_dir, self.settings.embedded_port)
        return self._embedded.ensure()

    def start_watch(self) -> EmbeddedWatch | None:
        """Watch the embedded server (restart it when it dies) until :meth:`close`; None when
        Redis is not the embedded server. Idempotent."""
        if not self.embedded:
            return None
        url = self.url  # starts or reuses the server
        if self._watch is None and self._embedded is not None:
            self._watch = EmbeddedWatch(self._embedded, url)
            self._watch_task = BackgroundTask("ils-embedded-watch", self._watch.run)
            self._watch_task.start()
        return self._watch

    def client(
        self, purpose: Purpose, name: str | None = None, queue: str | None = None
    ) -> aredis.Redis:
        """A new client to ``queue``'s server (None: the deployment's), the caller's to close."""
        return make_client(self.url_for(queue), purpose, name, self.cluster)

    def node_client(self, purpose: Purpose, name: str | None = None) -> aredis.Redis:
        """A new client to the deployment's URL as one server, the caller's to close: on a Redis
        Cluster the node it names, for pub/sub (a cluster hands every message to every node,
        where a cluster client will not pipeline ``PUBLISH``)."""
        return make_client(self.url, purpose, name)

    def admin_client_for(self, queue: str | None) -> aredis.Redis:
        """The broker's own admin client to ``queue``'s server (None: the deployment's)."""
        url = self.url_for(queue)
        client = self._admins.get(url)
        if client is None:
            client = self._admins[url] = make_client(url, "admin", cluster=self.cluster)
        return client

    @property
    def admin_client(self) -> aredis.Redis:
        return self.admin_client_for(None)

    async def ping(self, queue: str | None = None) -> float:
        """Round trip in milliseconds to ``queue``'s server; raises :class:`BrokerUnavailable`,
        or :class:`ConfigurationError` for a Redis Cluster node without ``redis_cluster`` or
        the other way round (checked once per server)."""
        url = self.url_for(queue)
        client = self.admin_client_for(queue)
        started = time.perf_counter()
        try:
            await client.ping()
            elapsed = time.perf_counter() - started
            if url not in self._single:
                await check_cluster(client, url, self.cluster)
                self._single.add(url)
        except (RedisError, RedisClusterUnreachableError) as exc:
            raise BrokerUnavailable(f"Redis at {redact(url)} did not answer: {exc}") from exc
        except RedisClusterException as exc:  # no slots read: no cluster, or an ACL that forbids
            raise ConfigurationError(
                f"Redis at {redact(url)} gave no Redis Cluster's slots ({exc}): it is not a "
                "Redis Cluster node (unset redis_cluster, ILS_REDIS_CLUSTER, for one server), or "
                "its ACL user may not run CLUSTER SLOTS and COMMAND"
            ) from exc
        return elapsed * 1000

    async def refuse_clusters(self) -> None:
        """:class:`ConfigurationError` when a server that answers now is a Redis Cluster node
        and ``redis_cluster`` is not set, or the other way round (at a process's start, so a web
        process refuses one too); a server that does not answer is checked when it first does
        (:meth:`ping`)."""
        for names in self.servers().values():
            with contextlib.suppress(BrokerUnavailable):
                await self.ping(names[0] if names else None)

    async def health(self, queue: str | None = None) -> BrokerHealth:
        """The health of ``queue``'s server (None: the deployment's)."""
        try:
            latency = await self.ping(queue)
            info = await self.admin_client_for(queue).info()
        except (BrokerUnavailable, ConfigurationError, RedisError) as exc:
            return BrokerHealth.unreachable(exc)
        return BrokerHealth.of(latency, info)

    async def servers_health(self, whole: bool = True) -> list[dict[str, Any]]:
        """Each server's health as the health views show it, with its queues; ``whole`` (the
        platform's view) also names the server (its URL without the password), a company's
        view does not (:meth:`BrokerHealth.shown`). On a Redis Cluster, each primary node with
        the queues its slots hold (:mod:`ils.queue.cluster_health`)."""
        if self.cluster:
            from ils.queue.cluster_health import primaries_health

            return await primaries_health(self, whole)
        servers = self.servers()
        checks = await asyncio.gather(
            *(self.health(qs[0] if qs else None) for qs in servers.values())
        )
        return [
            health.entry(redact(url), url == self.url, names, whole)
            for (url, names), health in zip(servers.items(), checks, strict=True)
        ]

    async def wait_until_ready(
        self, timeout_s: float | None = None, poll_s: float = 0.5, queue: str | None = None
    ) -> None:
        """Block until ``queue``'s server (None: the deployment's) answers a ping (guard 2:
        workers start only then)."""
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        warned = False
        while True:
            try:
                await self.ping(queue)
                if warned:
                    log.info("Redis at %s answers again", redact(self.url_for(queue)))
                return
            except BrokerUnavailable as exc:
                if deadline is not None and time.monotonic() >= deadline:
                    raise
                if not warned:
                    log.warning("waiting for Redis: %s", exc)
                    warned = True
            await asyncio.sleep(poll_s)

    async def close(self) -> None:
        if self._watch_task is not None:
            await self._watch_task.stop()
            self._watch_task, self._watch = None, None
        await self.queues.close()
        admins, self._admins = list(self._admins.values()), {}
        for client in admins:
            await client.aclose()
        if self._embedded is not None:
            await asyncio.to_thread(self._embedded.release)
            self._embedded = None
            self._url = None


async def check_cluster(client: aredis.Redis, url: str, cluster: bool) -> None:
    """:class:`ConfigurationError` when ``url`` is a node of a Redis Cluster but ``cluster`` is
    not set: a one-server client would be answered MOVED for the keys of other nodes' slots, and
    the queues' keys carry no hash tag. (A cluster client to a node not in cluster mode fails to
    connect, :meth:`Broker.ping`.)"""
    if cluster:
        return
    try:
        info = await client.info("cluster")
    except ResponseError:  # a server that will not say (a stripped-down INFO): taken as one
        return
    if int(info.get("cluster_enabled", 0) or 0):
        raise ConfigurationError(
            f"Redis at {redact(url)} is a Redis Cluster node: set redis_cluster "
            "(ILS_REDIS_CLUSTER=true) so that each queue's keys carry its hash tag "
            "(docs/production-redis.md, Redis Cluster)"
        )


def redact(url: str) -> str:
    """The URL without its password, for logs."""
    if "@" not in url:
        return url
    scheme, _, rest = url.partition("://")
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}://{user + ':' if user else ''}***@{host}"
