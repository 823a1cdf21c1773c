"""Queues on a Redis Cluster (issue 21): with ``redis_cluster`` every queue's keys carry its hash
tag, so queues of different tags live on different nodes and the engine's scripts and ILS's own
(the company index) touch one slot each; jobs are added (one, in bulk, a company's), run,
retried and counted there; a flow runs when its queues share a tag and is refused when they do not
(at enqueue and at start); a server that is not a cluster node is refused in cluster mode; the
request quotas count there; the live channel, published on one node, reaches every node; a Node
producer with the tagged prefix feeds the Python workers; while a node is down, enqueues follow
their fallback policy.

The cluster is this module's own: three nodes of the embedded server's binary on free loopback
ports (``tests/support/cluster.py``), started once for the module; each test has its own prefix.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis
import redis.asyncio as aredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import RedisError

from ils.bootstrap import JobSystem
from ils.errors import BrokerUnavailable, ConfigurationError, FlowAcrossServers
from ils.jobs.flows import check_servers
from ils.jobs.notification.channel import LiveEvent, NotificationPublisher, channel
from ils.queue import acl
from ils.queue.broker import Broker
from ils.queue.flows import send_flow
from ils.queue.keys import split_job_key
from ils.queue.settings import QUEUE_NAMES
from ils.queue.tenancy import ViewerScope
from ils.settings import IlsSettings
from tests.conftest import make_settings, probe_registry
from tests.support.cluster import redis_cluster, until_cluster_info
from tests.support.handlers import PARENT_PROBES
from tests.support.node import MISSING, run_node
from tests.support.running import Records, running
from tests.support.waiting import until_quiet

# On a cluster of three even slot ranges, {notification} hashes to the second node's slots and
# {oma} to the third's (CLUSTER KEYSLOT: 8821 and 13995).
APART = ("notification", "oma")


@pytest.fixture(scope="module")
def cluster_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with redis_cluster(tmp_path_factory.mktemp("cluster")) as url:
        yield url


def cluster_settings(url: str, tmp_path: Path, **env: str) -> IlsSettings:
    prefix = f"c{uuid.uuid4().hex[:8]}"
    return make_settings(url, prefix, tmp_path, env={"ILS_REDIS_CLUSTER": "true", **env})


@pytest.fixture
async def system(cluster_url: str, tmp_path: Path) -> AsyncIterator[JobSystem]:
    # pdf and email share a tag: the invoice flow's queues (and this module's flow) on one slot.
    js = JobSystem(
        cluster_settings(cluster_url, tmp_path, ILS_QUEUE_PDF_CLUSTER_TAG="email"),
        probe_registry(),
    )
    yield js
    await js.close()


def node_of(client: Any, key: str) -> int:
    """The port of the node serving ``key``."""
    return int(client.get_node_from_key(key).port)


def test_each_queue_gets_a_hash_tagged_prefix_and_the_settings_are_checked(tmp_path: Path):
    url = "redis://127.0.0.1:7000/0"
    settings = cluster_settings(url, tmp_path, ILS_QUEUE_PDF_CLUSTER_TAG="email")
    assert settings.queue_prefix("oma") == f"{settings.prefix}:{{oma}}"
    assert settings.queue_prefix("pdf") == settings.queue_prefix("email")
    plain = make_settings(url, "p", tmp_path)
    assert plain.queue_prefix("oma") == "p"  # one server: the keys as ever
    with pytest.raises(ConfigurationError, match="redis_url"):  # a queue on its own server
        cluster_settings(url, tmp_path, ILS_QUEUE_AI_REDIS_URL="redis://127.0.0.1:7001/0")
    with pytest.raises(ConfigurationError, match="cluster_tag"):
        cluster_settings(url, tmp_path, ILS_QUEUE_AI_CLUSTER_TAG="{ai}")
    # A child's job key names its queue, with or without the tag in front.
    assert split_job_key("p", "p:{email}:pdf:42") == ("pdf", "42")
    assert split_job_key("p", "p:pdf:42") == ("pdf", "42")


def test_flows_split_over_tags_are_refused_at_start_naming_the_fix(tmp_path: Path):
    settings = cluster_settings("redis://127.0.0.1:7000/0", tmp_path)
    with pytest.raises(ConfigurationError, match="cluster_tag") as refused:
        check_servers(settings)  # every queue its own tag: the invoice flow spans two
    assert "{email}" in str(refused.value) and "{pdf}" in str(refused.value)
    grouped = cluster_settings(
        "redis://127.0.0.1:7000/0", tmp_path,
        ILS_QUEUE_PDF_CLUSTER_TAG="email", ILS_QUEUE_NOTIFICATION_CLUSTER_TAG="email",
    )  # fmt: skip
    check_servers(grouped)


async def test_two_queues_on_two_nodes_run_their_jobs_with_a_retry_and_admin_stats(
    system: JobSystem, cluster_url: str
):
    producer, admin = system.producer, system.admin
    await system.broker.refuse_clusters()  # in cluster mode a cluster node is what is wanted
    plain = {q: await producer.enqueue(q, "test-probe", {"tag": q}) for q in APART}
    first, second = (admin.queue(q) for q in APART)
    assert node_of(first.client, first.keys["wait"]) != node_of(second.client, second.keys["wait"])
    retried = await producer.enqueue("oma", "test-probe", {"tag": "again", "fail_times": 1})
    owned = await producer.enqueue("notification", "test-probe", {"tag": "own"}, company_id=7)
    bulk = await producer.enqueue_many("oma", "test-probe", [{"tag": f"b{i}"} for i in range(5)])
    assert (await admin.stats(list(APART)))["oma"]["waiting"] == 7

    records = Records(cluster_url, system.settings.prefix, cluster=True)
    try:
        async with running(system, *APART) as runtime:
            await until_quiet(system, list(APART))
            workers = await admin.workers()
            assert [sorted(w.queues) for w in workers if w.id == runtime.worker_id] == [
                sorted(APART)
            ]
        assert await records.runs("oma", retried.job_id) == 2  # failed once, retried, done
        for q, one in plain.items():
            assert await records.runs(q, one.job_id) == 1
        for one in bulk:
            assert await records.runs("oma", one.job_id) == 1
    finally:
        await records.close()
    stats = await admin.stats(list(APART))
    assert (stats["notification"]["completed"], stats["oma"]["completed"]) == (2, 7)
    own = await admin.stats(["notification"], ViewerScope(company_id=7))
    assert own["notification"]["completed"] == 1  # the company index, on the queue's slot
    assert (await admin.get_job("notification", owned.job_id)).state == "completed"
    totals = {(s.queue, s.outcomes.get("completed", 0)) for s in await admin.metrics.totals()}
    assert {("notification", 2), ("oma", 7)} <= totals
    health = await admin.health()
    assert health["redis"] is True and len(health["servers"]) == 3  # each primary node


async def test_a_flow_on_one_tag_runs_and_one_across_tags_is_refused(system: JobSystem):
    parent = next(d for d in PARENT_PROBES if d.job_type.queue == "pdf")
    child = next(d for d in PARENT_PROBES if d.job_type.queue == "email")
    sent = await send_flow(
        parent.step(tag="p").after(child.step(tag="batch")), producer=system.producer
    )
    async with running(system, "pdf", "email"):
        done = await system.admin.wait_for_job("pdf", sent.job_id, timeout_s=20)
    assert done.state == "completed"

    apart = next(d for d in PARENT_PROBES if d.job_type.queue == "oma")
    with pytest.raises(FlowAcrossServers, match="cluster slot"):
        await send_flow(parent.step(tag="p").after(apart.step(tag="c")), producer=system.producer)


async def test_a_server_that_is_no_cluster_node_is_refused_in_cluster_mode(
    redis_url: str, tmp_path: Path
):
    with pytest.raises(ConfigurationError, match="database 0"):
        cluster_settings(redis_url, tmp_path)  # the tests' database: a cluster has only 0
    # Database 0 of the machine's server: only asked whether it is a cluster node.
    broker = Broker(cluster_settings(redis_url.rsplit("/", 1)[0] + "/0", tmp_path))
    try:
        with pytest.raises(ConfigurationError, match="not a Redis Cluster node"):
            await broker.refuse_clusters()
    finally:
        await broker.close()


async def test_the_queues_keys_spread_over_the_nodes(system: JobSystem, cluster_url: str):
    for q in ("email", "ai", "oma"):
        await system.producer.enqueue(q, "test-probe", {"tag": q})
    client = RedisCluster.from_url(cluster_url, decode_responses=True)
    try:
        await client.initialize()
        ports = set()
        for node in client.get_primaries():
            found = await client.keys(f"{system.settings.prefix}:*", target_nodes=node)
            if found:
                ports.add(node.port)
        assert len(ports) == 3  # {email}, {ai} and {oma} hash to the three nodes' slots
    finally:
        await client.aclose()


async def test_health_lists_each_primary_with_the_queues_its_slots_hold(system: JobSystem):
    servers = await system.broker.servers_health()
    assert len(servers) == 3 and all(s["redis"] and s["version"] for s in servers)
    assert servers[0]["default"] and sum(s["default"] for s in servers) == 1
    assert sorted(q for s in servers for q in s["queues"]) == sorted(QUEUE_NAMES)
    node_of_queue = {q: s["server"] for s in servers for q in s["queues"]}
    assert node_of_queue["email"] == node_of_queue["pdf"]  # pdf has email's tag here
    assert node_of_queue[APART[0]] != node_of_queue[APART[1]]
    health = await system.admin.health()
    assert health["healthy"] is False  # no worker runs: every node answers, none takes jobs
    assert [s["server"] for s in health["servers"]] == [s["server"] for s in servers]
    # A company sees whether each node answers, not which node it is nor what it runs.
    company = await system.broker.servers_health(whole=False)
    assert all(s["server"] is None and s["version"] is None and s["redis"] for s in company)


async def test_request_quotas_count_on_the_cluster(system: JobSystem):
    from ils.web.auth import web_context  # noqa: F401  (the web package first, as the app does)
    from ils.web.quota_settings import QuotaRule
    from ils.web.quotas import QuotaExceeded, QuotaLimiter

    limiter = QuotaLimiter(
        system.broker, system.settings.prefix, {"enqueue": QuotaRule(user=2, company=None)}
    )
    await limiter.hit("enqueue", 1, 1)
    await limiter.hit("enqueue", 1, 1)
    with pytest.raises(QuotaExceeded):
        await limiter.hit("enqueue", 1, 1)
    await limiter.hit("enqueue", 2, 1)  # another user, another window
    assert not limiter._degraded  # counted in Redis, not passed for want of it


@pytest.mark.skipif(MISSING, reason="Node or its bullmq package is missing: run `make node-deps`")
async def test_a_node_producer_with_the_tagged_prefix_feeds_the_python_workers(
    system: JobSystem, cluster_url: str
):
    settings = system.settings
    node = urlsplit(cluster_url)
    job_id = uuid.uuid4().hex
    args = {"host": node.hostname, "port": node.port, "queue": "oma",
            "prefix": settings.queue_prefix("oma"), "company": 7, "jobId": job_id}  # fmt: skip
    assert await run_node("add_on_cluster.mjs", args) == {"id": job_id}
    mine = ViewerScope(company_id=7)
    assert (await system.admin.get_job("oma", job_id, mine)).state == "waiting"
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", job_id, timeout_s=30)
    assert view.state == "completed" and view.return_value["tag"] == "node-cluster"
    assert (await system.admin.stats(["oma"], mine))["oma"]["completed"] == 1


async def test_the_live_channel_reaches_a_subscriber_on_another_node(system: JobSystem):
    client = RedisCluster.from_url(system.broker.url, decode_responses=True)
    await client.initialize()
    seed = urlsplit(system.broker.url).port
    other = next(n for n in client.get_primaries() if n.port != seed)
    subscriber = aredis.Redis(host=other.host, port=other.port, decode_responses=True)
    publisher = NotificationPublisher(system.broker)
    pubsub = subscriber.pubsub()
    try:
        await pubsub.subscribe(channel(system.settings.prefix))
        assert (await pubsub.get_message(timeout=10))["type"] == "subscribe"
        events = [LiveEvent.domain_event("e1"), LiveEvent.domain_event("e2")]
        await publisher.publish(events)
        got = [await pubsub.get_message(ignore_subscribe_messages=True, timeout=10) for _ in "ab"]
        assert [m["data"] for m in got if m] == [
            e.encode() for e in events
        ]  # a cluster hands every message to every node
    finally:
        await publisher.close()
        await pubsub.aclose()
        await subscriber.aclose()
        await client.aclose()


async def test_a_node_down_makes_enqueues_follow_their_fallback(tmp_path: Path):
    """While a node does not answer (and before the cluster marks it failed) only the queues of
    its slots are held back; once the cluster is down (``CLUSTERDOWN``) every queue is. Either
    way an enqueue follows its queue's fallback policy (``raise`` for both queues here)."""
    with redis_cluster(tmp_path / "own") as url:
        js = JobSystem(cluster_settings(url, tmp_path), probe_registry())
        client = RedisCluster.from_url(url, decode_responses=True)
        try:
            for q in ("oma", "ai"):  # the scripts cached on each node (loaded on all of them)
                job = await js.producer.enqueue(q, "test-probe", {"tag": "before"})
                assert (await js.admin.get_job(q, job.job_id)).state == "waiting"
            await client.initialize()
            dead = client.get_node_from_key(js.admin.queue("oma").keys["wait"])
            live = [n for n in client.get_primaries() if n.port != dead.port]
            assert client.get_node_from_key(js.admin.queue("ai").keys["wait"]) in live
            await client.config_set("cluster-node-timeout", 600_000, target_nodes=live)
            with contextlib.suppress(RedisError):
                await client.execute_command("SHUTDOWN", "NOSAVE", target_nodes=dead)
            with pytest.raises(BrokerUnavailable):
                await js.producer.enqueue("oma", "test-probe", {"tag": "while-dead"})
            alive = await js.producer.enqueue("ai", "test-probe", {"tag": "elsewhere"})
            assert (await js.admin.get_job("ai", alive.job_id)).state == "waiting"
            # The health views name the node that is down and the queues it holds.
            servers = await js.broker.servers_health()
            down = [s for s in servers if not s["redis"]]
            assert [s["server"] for s in down] == [dead.name] and "oma" in down[0]["queues"]
            assert len(servers) == 3 and "ai" not in down[0]["queues"]

            await client.config_set("cluster-node-timeout", 200, target_nodes=live)
            await cluster_fails(live[0])
            with pytest.raises(BrokerUnavailable):
                await js.producer.enqueue("ai", "test-probe", {"tag": "cluster-down"})
        finally:
            await client.aclose()
            await js.close()


async def cluster_fails(node: Any, timeout_s: float = 30) -> None:
    """Return once ``node`` says ``cluster_state:fail``."""
    with redis.Redis(host=node.host, port=node.port, decode_responses=True) as client:
        await asyncio.to_thread(
            until_cluster_info, [client], lambda infos: infos[0]["cluster_state"] == "fail",
            timeout_s,
        )  # fmt: skip


async def test_adds_and_flows_load_their_scripts_again_after_a_node_lost_them(
    system: JobSystem, cluster_url: str
):
    producer = system.producer
    parent = next(d for d in PARENT_PROBES if d.job_type.queue == "pdf")
    child = next(d for d in PARENT_PROBES if d.job_type.queue == "email")
    await producer.enqueue("email", "test-probe", {"tag": "first"}, company_id=3)
    await send_flow(parent.step(tag="p0").after(child.step(tag="c0")), producer=producer)
    client = RedisCluster.from_url(cluster_url, decode_responses=True)
    try:
        await client.execute_command("SCRIPT", "FLUSH", target_nodes=RedisCluster.ALL_NODES)
    finally:
        await client.aclose()
    one = await producer.enqueue("email", "test-probe", {"tag": "again"}, company_id=3)
    many = await producer.enqueue_many("email", "test-probe", [{"tag": "b0"}, {"tag": "b1"}])
    flow = await send_flow(parent.step(tag="p1").after(child.step(tag="c1")), producer=producer)
    mine = ViewerScope(company_id=3)
    assert (await system.admin.get_job("email", one.job_id, mine)).state == "waiting"
    for job in many:
        assert (await system.admin.get_job("email", job.job_id)).state == "waiting"
    assert (await system.admin.get_job("pdf", flow.job_id)).state == "waiting-children"


async def test_a_serve_user_with_the_cluster_acl_rules_runs_the_job_path(
    cluster_url: str, tmp_path: Path
):
    settings = cluster_settings(cluster_url, tmp_path)
    password = uuid.uuid4().hex
    user = f"ils-serve-{settings.prefix}"
    admin = RedisCluster.from_url(cluster_url, decode_responses=True)
    try:
        await admin.initialize()
        for cluster, name in ((False, f"{user}-plain"), (True, user)):
            args = acl.setuser_args(name, password, "serve", settings.prefix, cluster)
            await admin.execute_command(
                "ACL", "SETUSER", *args, target_nodes=RedisCluster.ALL_NODES
            )
        node = urlsplit(cluster_url)
        without = f"redis://{user}-plain:{password}@{node.hostname}:{node.port}/0"
        broker = Broker(settings.model_copy(update={"redis_url": without}))
        with pytest.raises(ConfigurationError, match="CLUSTER SLOTS"):
            await broker.refuse_clusters()  # the one-server rules are not enough
        await broker.close()
        url = f"redis://{user}:{password}@{node.hostname}:{node.port}/0"
        js = JobSystem(settings.model_copy(update={"redis_url": url}), probe_registry())
        try:
            await js.broker.refuse_clusters()
            job = await js.producer.enqueue("oma", "test-probe", {"tag": "acl"}, company_id=5)
            async with running(js, "oma"):
                done = await js.admin.wait_for_job("oma", job.job_id, timeout_s=30)
            assert done.state == "completed"
            own = await js.admin.stats(["oma"], ViewerScope(company_id=5))
            assert own["oma"]["completed"] == 1
        finally:
            await js.close()
    finally:
        for name in (user, f"{user}-plain"):
            await admin.execute_command("ACL", "DELUSER", name, target_nodes=RedisCluster.ALL_NODES)
        await admin.aclose()
