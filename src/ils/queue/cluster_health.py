"""A Redis Cluster's health node by node: each primary's ping, version and memory (a
:class:`~ils.queue.broker.BrokerHealth` each), with the queues whose hash tag's slot it holds.

The health views list these in place of a single-server deployment's servers, so an operator
sees which node is down or full and which queues it takes with it. ``default`` marks the node
the deployment's URL names (the one the clients were seeded with).
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlsplit

from redis.asyncio.cluster import ClusterNode, RedisCluster
from redis.exceptions import RedisClusterException, RedisError

from ils.queue import keys
from ils.queue.broker import BrokerHealth, redact
from ils.queue.settings import QUEUE_NAMES

if TYPE_CHECKING:
    from ils.queue.broker import Broker


async def primaries_health(broker: Broker, whole: bool) -> list[dict[str, Any]]:
    """Each primary node's health as the health views show it (see
    :meth:`~ils.queue.broker.Broker.servers_health`), the seed node first; one unreachable
    entry for the deployment's URL when the cluster's nodes cannot be read at all."""
    client = cast(RedisCluster, broker.admin_client)
    try:
        await client.initialize()
        nodes = client.get_primaries()
    except (RedisError, RedisClusterException) as exc:
        return [BrokerHealth.unreachable(exc).entry(redact(broker.url), True, QUEUE_NAMES, whole)]
    queues: dict[str, list[str]] = {node.name: [] for node in nodes}
    for name in QUEUE_NAMES:
        key = keys.queue_key_prefix(broker.settings.queue_prefix(name), name) + "meta"
        node = client.get_node_from_key(key)
        if node is not None:  # None: no primary holds the slot (the cluster is failing)
            queues.setdefault(node.name, []).append(name)
    parts = urlsplit(broker.url)
    seed = f"{parts.hostname}:{parts.port or 6379}"
    nodes = sorted(nodes, key=lambda n: (n.name != seed, n.name))
    checks = await asyncio.gather(*(node_health(client, node) for node in nodes))
    return [
        health.entry(node.name, node.name == seed, queues.get(node.name, []), whole)
        for node, health in zip(nodes, checks, strict=True)
    ]


async def node_health(client: RedisCluster, node: ClusterNode) -> BrokerHealth:
    """One node's ping and ``INFO``, sent to it alone."""
    started = time.perf_counter()
    try:
        await client.ping(target_nodes=node)
        latency_ms = (time.perf_counter() - started) * 1000
        info = await client.info(target_nodes=node)
    except (RedisError, RedisClusterException) as exc:
        return BrokerHealth.unreachable(exc)
    return BrokerHealth.of(latency_ms, info)
