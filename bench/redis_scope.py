"""Where the bench may talk to Redis, under which key prefix, and the clean-up after each run.

The bench only talks to a Redis on 127.0.0.1 (or localhost), uses a fresh key prefix per run
(``ilsbench-<hex>``), and deletes every key under that prefix when it is done; it never flushes
a database. This module also builds the ILS settings both sides derive their options from, and
our side's parts: the broker, the registry (with the no-op job), the producer and the runtime,
the pieces ``ils.bootstrap.JobSystem`` assembles for a process. They are built here directly so
the bench needs nothing else of a process (no admin, no database, no files).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis

from ils.jobs import build_registry
from ils.queue.broker import Broker
from ils.queue.producer import Producer
from ils.queue.registry import Registry
from ils.queue.runtime import WorkerRuntime
from ils.queue.settings import QUEUE_NAMES, Settings
from ils.settings import load_settings
from noop_jobs import MODULE, QUEUE

DEFAULT_URL = "redis://127.0.0.1:6379/9"
T = TypeVar("T")
ALLOWED_HOSTS = ("127.0.0.1", "localhost")


def checked_url(url: str) -> str:
    """``url`` if it names a Redis on this machine; ``ValueError`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss"):
        raise ValueError(f"not a redis:// URL: {url!r}")
    if parts.hostname not in ALLOWED_HOSTS:
        raise ValueError(f"the bench only talks to {' or '.join(ALLOWED_HOSTS)}, not {url!r}")
    return url


def redacted(url: str) -> str:
    parts = urlsplit(url)
    if parts.password is None:
        return url
    return url.replace(f":{parts.password}@", ":***@", 1)


def new_prefix() -> str:
    return f"ilsbench-{uuid.uuid4().hex[:10]}"


def scoped_run(url: str, measure: Callable[[str, str], Awaitable[T]]) -> T:
    """``measure(url, prefix)`` run to its end under a fresh prefix on ``url`` (checked to be
    on this machine); the prefix's keys deleted afterwards, whatever happened."""
    url, prefix = checked_url(url), new_prefix()
    try:
        return asyncio.run(measure(url, prefix))
    finally:
        delete_prefix(url, prefix)


def delete_prefix(url: str, prefix: str, batch: int = 500) -> int:
    """Delete every key under ``prefix:`` (scan + delete; never a flush). The count deleted."""
    client = redis.Redis.from_url(url, socket_timeout=30, socket_connect_timeout=5)
    deleted = 0
    try:
        pending: list[Any] = []
        for key in client.scan_iter(match=f"{prefix}:*", count=1000):
            pending.append(key)
            if len(pending) >= batch:
                deleted += int(client.delete(*pending))
                pending = []
        if pending:
            deleted += int(client.delete(*pending))
    finally:
        client.close()
    return deleted


def server_version(url: str) -> str:
    client = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)
    try:
        info = client.info("server")
    finally:
        client.close()
    return str(info.get("valkey_version") or info.get("redis_version") or "unknown")


def ils_settings(url: str, prefix: str, concurrency: int) -> Settings:
    """Our settings for a bench run: the no-op job module, ``oma`` at ``concurrency``, no rate
    limit, everything else at the project's defaults (retention included), except that no queue
    falls back when Redis is down: the fallbacks are not measured, and the ``spool`` one would
    need a database the bench does not use."""
    env = {
        "REDIS_URL": url,
        "ILS_REDIS_PREFIX": prefix,
        "ILS_IMPORTS": MODULE,
        "ILS_SHUTDOWN_GRACE_S": "5",
        f"ILS_QUEUE_{QUEUE.upper()}_CONCURRENCY": str(concurrency),
        f"ILS_QUEUE_{QUEUE.upper()}_RATE_MAX": "none",
    }
    for name in QUEUE_NAMES:
        env[f"ILS_QUEUE_{name.upper()}_FALLBACK"] = "raise"
    return load_settings(env=env, cli={"redis_wait_s": 10.0})


class OurSide:
    """Our job system for one bench prefix: settings, registry, broker; producer and runtime."""

    def __init__(self, url: str, prefix: str, concurrency: int) -> None:
        self.settings = ils_settings(url, prefix, concurrency)
        self.registry: Registry = build_registry(self.settings.imports)
        self.broker = Broker(self.settings)
        self._producer: Producer | None = None

    @property
    def producer(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(self.settings, self.registry, self.broker)
        return self._producer

    def runtime(self) -> WorkerRuntime:
        return WorkerRuntime(self.settings, self.registry, self.broker, (QUEUE,))

    async def close(self) -> None:
        await self.broker.close()
