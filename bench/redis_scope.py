"""Where the bench may talk to Redis, under which key prefix, and the clean-up after each run.

The bench only talks to a Redis on 127.0.0.1 (or localhost), uses a fresh key prefix per run
(``ilsbench-<hex>``), and deletes every key under that prefix when it is done; it never flushes
a database. This module also builds the ILS settings both sides derive their options from.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import redis

from ils.queue.settings import Settings, load_settings
from noop_jobs import MODULE, QUEUE

DEFAULT_URL = "redis://127.0.0.1:6379/9"
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
    limit, everything else at the project's defaults (retention included)."""
    queue = QUEUE.upper()
    env = {
        "REDIS_URL": url,
        "ILS_REDIS_PREFIX": prefix,
        "ILS_IMPORTS": MODULE,
        "ILS_SHUTDOWN_GRACE_S": "5",
        f"ILS_QUEUE_{queue}_CONCURRENCY": str(concurrency),
        f"ILS_QUEUE_{queue}_RATE_MAX": "none",
    }
    return load_settings(env=env, redis_wait_s=10.0)
