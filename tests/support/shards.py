"""Two embedded Redis servers of a test's own, on free loopback ports (the deployment's and a
shard), and settings that put the sharded queues (``oma`` and ``ai``) on the second one."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from pathlib import Path

import redis.asyncio as aredis

from ils.queue.embedded import EmbeddedServer
from ils.settings import IlsSettings
from tests.conftest import make_settings

SHARDED = ("ai", "oma")  # in QUEUE_NAMES order, as health lists them
UNSHARDED = ("email", "pdf", "notification", "scheduled")

Servers = tuple[EmbeddedServer, EmbeddedServer]


@contextlib.contextmanager
def two_servers(tmp_path: Path) -> Iterator[Servers]:
    """The deployment's server and the shard, both started; stopped after."""
    main, shard = EmbeddedServer(tmp_path / "main-redis"), EmbeddedServer(tmp_path / "shard")
    try:
        main.ensure()
        shard.ensure()
        yield main, shard
    finally:
        for server in (main, shard):
            with contextlib.suppress(Exception):
                server.stop()


def sharded_settings(servers: Servers, tmp_path: Path, **env: str) -> IlsSettings:
    """Settings on a fresh prefix: :data:`SHARDED` on the shard, the rest on the main server."""
    main, shard = (s.ensure() for s in servers)
    shard_env = {f"ILS_QUEUE_{q.upper()}_REDIS_URL": shard for q in SHARDED}
    prefix = f"s{uuid.uuid4().hex[:8]}"
    return make_settings(main, prefix, tmp_path, env={**shard_env, **env})


async def keys_on(server: EmbeddedServer, pattern: str) -> list[str]:
    """The keys of ``server`` that match ``pattern``."""
    client = aredis.from_url(server.ensure(), decode_responses=True)
    try:
        return [str(k) async for k in client.scan_iter(match=pattern, count=1000)]
    finally:
        await client.aclose()
