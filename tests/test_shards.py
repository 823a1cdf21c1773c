"""Queues sharded over two Redis servers (issue 21): each queue's jobs live on, and are run from,
its own server only; the admin layer reads and acts across both with tenant isolation; the relay
publishes outbox rows to each row's server; a shard server that dies holds back only its queues;
health shows each server; a flow across servers and a Redis Cluster are refused clearly.

Both servers are embedded ones this module starts on free ports: ``oma`` and ``ai`` live on the
shard, every other queue on the deployment's server.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from typer.testing import CliRunner

from ils.bootstrap import JobSystem
from ils.cli import app
from ils.domain.db import Database
from ils.errors import ConfigurationError, FlowAcrossServers, PermissionDenied
from ils.queue.broker import Broker
from ils.queue.declare import JobDef
from ils.queue.flows import send_batch, send_flow
from ils.queue.tenancy import ViewerScope
from tests.conftest import make_settings, probe_registry
from tests.support.cluster import cluster_node
from tests.support.handlers import PARENT_PROBES, PROBES
from tests.support.running import Records, running
from tests.support.shards import (
    SHARDED,
    UNSHARDED,
    Servers,
    keys_on,
    sharded_settings,
    two_servers,
)
from tests.support.waiting import until_quiet

COMPANY_1, COMPANY_2 = ViewerScope(company_id=1), ViewerScope(company_id=2)


def probe_on(queue: str) -> JobDef[Any, Any]:
    return next(d for d in PROBES if d.job_type.queue == queue)


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[Servers]:
    with two_servers(tmp_path) as both:
        yield both


@pytest.fixture
async def system(servers: Servers, tmp_path: Path) -> AsyncIterator[JobSystem]:
    js = JobSystem(sharded_settings(servers, tmp_path), probe_registry())
    yield js
    await js.close()


async def test_a_sharded_queues_jobs_land_on_and_run_from_its_server_only(
    system: JobSystem, servers: Servers
):
    main, shard = servers
    prefix = system.settings.prefix
    oma = await system.producer.enqueue("oma", "test-probe", {"tag": "on-shard"})
    mail = await system.producer.enqueue("email", "test-probe", {"tag": "on-main"})

    assert await keys_on(shard, f"{prefix}:oma:{oma.job_id}")
    assert not await keys_on(main, f"{prefix}:oma:*")
    assert await keys_on(main, f"{prefix}:email:{mail.job_id}")
    assert not await keys_on(shard, f"{prefix}:email:*")

    records = Records(main.ensure(), prefix)  # the probes record on the deployment's server
    try:
        async with running(system, "oma", "email"):
            await until_quiet(system, ["oma", "email"])
        assert await records.runs("oma", oma.job_id) == 1
        assert await records.runs("email", mail.job_id) == 1
    finally:
        await records.close()
    assert (await system.admin.get_job("oma", oma.job_id)).state == "completed"
    assert await keys_on(shard, f"{prefix}:oma:completed")
    assert not await keys_on(main, f"{prefix}:oma:*")


async def test_the_admin_layer_reads_and_acts_across_both_servers_each_company_its_own(
    system: JobSystem, servers: Servers
):
    admin = system.admin
    for queue in ("oma", "email"):
        for company in (1, 2):
            await system.producer.enqueue(queue, "test-probe", {"tag": "t"}, company_id=company)
    stats = await admin.stats(["oma", "email"])
    assert stats["oma"]["waiting"] == stats["email"]["waiting"] == 2
    own = await admin.stats(["oma", "email"], COMPANY_1)
    assert own["oma"]["waiting"] == own["email"]["waiting"] == 1
    page = await admin.browse.jobs("oma", "waiting", scope=COMPANY_1)
    assert page.total == 1 and [j.company_id for j in page.jobs] == [1]

    with pytest.raises(PermissionDenied):
        await admin.actions.pause("oma", COMPANY_1)
    await admin.actions.pause("oma")
    shard = aredis.from_url(servers[1].ensure(), decode_responses=True)
    try:
        meta = f"{system.settings.prefix}:oma:meta"
        assert await shard.hget(meta, "paused") == "1"  # paused on the shard itself
        await admin.actions.resume("oma")
        assert await shard.hget(meta, "paused") is None
    finally:
        await shard.aclose()

    failing = await system.producer.enqueue(
        "oma", "test-probe", {"tag": "bad", "give_up": True}, company_id=2
    )
    async with running(system, "oma", "email") as runtime:
        await until_quiet(system, ["oma", "email"])
        workers = await admin.workers()
        assert [sorted(w.queues) for w in workers if w.id == runtime.worker_id] == [
            ["email", "oma"]
        ]
    assert (await admin.get_job("oma", failing.job_id)).state == "failed"
    assert await admin.actions.retry_all_failed("oma", COMPANY_1) == 0  # not its job
    assert await admin.actions.retry_all_failed("oma", COMPANY_2) == 1
    assert (await admin.get_job("oma", failing.job_id)).state == "waiting"
    assert await admin.actions.clean("oma", "completed", 0) == 2
    assert await admin.actions.clean("email", "completed", 0) == 2


async def test_health_shows_each_server_and_a_company_sees_no_server_details(
    system: JobSystem, servers: Servers
):
    shard = servers[1]
    health = await system.admin.health()
    by_queues = {tuple(s["queues"]): s for s in health["servers"]}
    assert set(by_queues) == {UNSHARDED, SHARDED}
    assert all(s["redis"] and s["version"] for s in health["servers"])
    assert by_queues[SHARDED]["default"] is False
    port = shard.ensure().rsplit(":", 1)[1].split("/")[0]
    assert port in by_queues[SHARDED]["server"]
    password = shard.password()
    assert all(password not in str(s) for s in health["servers"])

    seen = await system.admin.health(COMPANY_1)
    for server in seen["servers"]:
        assert server["server"] is None and server["version"] is None
        assert server["memory_used_bytes"] is None and server["redis"] is True
    info = await system.admin.info(COMPANY_1)
    assert all("redis_url" not in q["settings"] for q in info["queues"].values())


async def test_a_dead_shard_holds_back_only_its_queues_and_its_spooled_jobs_arrive_later(
    servers: Servers, tmp_path: Path, db: Database
):
    main, shard = servers
    settings = sharded_settings(servers, tmp_path, ILS_QUEUE_OMA_FALLBACK="spool")
    system = JobSystem(settings, probe_registry(), database=db)
    records = Records(main.ensure(), settings.prefix)
    try:
        async with running(system, "oma", "email"):
            await asyncio.to_thread(shard.stop)
            mail = await system.producer.enqueue("email", "test-probe", {"tag": "main"})
            oma = await system.producer.enqueue("oma", "test-probe", {"tag": "spooled"})
            assert (mail.mode, oma.mode) == ("queued", "spooled")
            done = await system.admin.wait_for_job("email", mail.job_id, timeout_s=15)
            assert done.state == "completed"

            health = await system.admin.health()
            up = {tuple(s["queues"]): s["redis"] for s in health["servers"]}
            assert up[SHARDED] is False and up[UNSHARDED]
            assert health["redis"] is True and health["healthy"] is False
            snapshot = await system.admin.snapshot()
            assert snapshot["queues"]["oma"]["counts"] is None
            assert snapshot["queues"]["email"]["counts"]["completed"] == 1

            assert await system.relay.relay_pending() == 0  # its server is down: it waits
            async with db.session() as session:  # one transaction, a row for each server
                held = await system.producer.enqueue(
                    "oma", "test-probe", {"tag": "held"}, session=session
                )
                passed = await system.producer.enqueue(
                    "email", "test-probe", {"tag": "passed"}, session=session
                )
            await system.relay.wait_idle()
            await system.relay.relay_pending()
            done = await system.admin.wait_for_job("email", passed.job_id, timeout_s=15)
            assert done.state == "completed"  # relayed to the main server, and run
            row = await system.outbox.get(held.job_id)
            assert row is not None and row.relayed_at is None and row.last_error

            await asyncio.to_thread(shard.ensure)  # back, same port and data
            assert await system.relay.relay_pending() == 2
            for job_id in (oma.job_id, held.job_id):
                done = await system.admin.wait_for_job("oma", job_id, timeout_s=30)
                assert done.state == "completed"
        assert await records.runs("oma", oma.job_id) == 1
        assert await keys_on(shard, f"{settings.prefix}:oma:{oma.job_id}")
    finally:
        await records.close()
        await system.close()


async def test_the_relay_publishes_each_row_to_its_queues_server(
    servers: Servers, tmp_path: Path, db: Database
):
    main, shard = servers
    system = JobSystem(sharded_settings(servers, tmp_path), probe_registry(), database=db)
    prefix = system.settings.prefix
    try:
        async with db.session() as session:
            ai = await system.producer.enqueue("ai", "test-probe", {"tag": "a"}, session=session)
            mail = await system.producer.enqueue(
                "email", "test-probe", {"tag": "m"}, session=session
            )
        await system.relay.wait_idle()
        await system.relay.relay_pending()
        assert (ai.mode, mail.mode) == ("outbox", "outbox")
        assert await keys_on(shard, f"{prefix}:ai:{ai.job_id}")
        assert await keys_on(main, f"{prefix}:email:{mail.job_id}")
        assert not await keys_on(main, f"{prefix}:ai:*")
        assert (await system.admin.get_job("ai", ai.job_id)).state == "waiting"
    finally:
        await system.close()


async def test_a_flow_across_servers_is_refused_naming_its_queues_and_servers(
    system: JobSystem, servers: Servers
):
    parent = next(d for d in PARENT_PROBES if d.job_type.queue == "email")
    root = parent.step(tag="p").after(probe_on("oma").step(tag="c"))
    with pytest.raises(FlowAcrossServers) as refused:
        await send_flow(root, producer=system.producer)
    message = str(refused.value)
    assert "email on redis://" in message and "oma on redis://" in message
    assert servers[1].password() not in message
    assert sorted(refused.value.servers.values()) == [["email"], ["oma"]]
    assert not await keys_on(servers[1], f"{system.settings.prefix}:*")

    on_shard = next(d for d in PARENT_PROBES if d.job_type.queue == "oma")
    sent = await send_flow(
        on_shard.step(tag="p").after(probe_on("ai").step(tag="c")), producer=system.producer
    )
    batch = await send_batch(
        on_shard.step(tag="summary"), [probe_on("ai").step(tag=f"b{i}") for i in range(3)],
        producer=system.producer,
    )  # fmt: skip
    async with running(system, "oma", "ai"):
        done = await system.admin.wait_for_job("oma", sent.job_id, timeout_s=20)
        assert done.state == "completed"  # parent and child on one server: a flow as ever
        await system.admin.wait_for_job("oma", batch.job_id, timeout_s=20)
    view = await system.admin.batches.get(batch.job_id)  # found on the shard
    assert (view.queue, view.done, view.counts["completed"]) == ("oma", True, 3)


def test_a_shard_is_never_the_embedded_server(tmp_path: Path):
    settings = make_settings("", "p", tmp_path, env={"ILS_QUEUE_AI_REDIS_URL": "redis://h:1/0"})
    settings = settings.model_copy(update={"redis_url": None})
    broker = Broker(settings)
    assert broker.url_for("ai") == "redis://h:1/0"
    assert broker._embedded is None  # asking a shard's URL starts nothing


@pytest.mark.parametrize("url", ["redis+cluster://h:7000", "http://h:6379", "h:6379"])
def test_a_url_that_is_not_one_redis_server_is_refused_at_start_up(tmp_path: Path, url: str):
    with pytest.raises(ConfigurationError, match="redis_url"):
        make_settings("redis://127.0.0.1:6379/9", "p", tmp_path,
                      env={"ILS_QUEUE_PDF_REDIS_URL": url})  # fmt: skip


async def test_a_redis_cluster_node_is_refused_with_a_clear_error(tmp_path: Path):
    with cluster_node(tmp_path / "cluster") as url:
        settings = make_settings(url, "p", tmp_path)
        broker = Broker(settings)
        try:
            with pytest.raises(ConfigurationError, match="Redis Cluster"):
                await broker.refuse_clusters()  # what a process does at start
            with pytest.raises(ConfigurationError, match="Redis Cluster"):
                await broker.wait_until_ready(timeout_s=5)
            health = await broker.health()
            assert not health.reachable and "Redis Cluster" in str(health.error)
        finally:
            await broker.close()


def test_the_deployment_pages_sharding_example_loads(tmp_path: Path):
    page = (Path(__file__).parent.parent / "docs" / "deployment.md").read_text()
    block = page.split("```toml\n# ils.toml\n[queues.oma]", 1)[1].split("```", 1)[0]
    config = tmp_path / "ils.toml"
    config.write_text("[queues.oma]" + block)
    settings = make_settings("redis://127.0.0.1:6379/9", "p", tmp_path,
                             env={"ILS_CONFIG": str(config)})  # fmt: skip
    assert settings.server_url("oma") == "rediss://ils-worker:secret@redis-b.internal:6380/0"
    assert settings.server_url("email") == "redis://127.0.0.1:6379/9"


def test_ils_queue_health_lists_the_shard_and_fails_while_it_is_down(
    servers: Servers, tmp_path: Path
):
    main, shard = (s.ensure() for s in servers)
    env = {"REDIS_URL": main, "ILS_QUEUE_OMA_REDIS_URL": shard, "ILS_VAR_DIR": str(tmp_path)}
    runner = CliRunner()
    up = runner.invoke(app, ["queue", "health"], env=env)
    assert up.exit_code == 0, up.output
    assert "oma on redis://" in up.output and servers[1].password() not in up.output
    servers[1].stop()
    down = runner.invoke(app, ["queue", "health", "--json"], env=env)
    assert down.exit_code == 1
    health = json.loads(down.output)
    assert health["redis"] is True and [s["redis"] for s in health["servers"]] == [True, False]


@pytest.mark.parametrize("moved", ["PDF", "NOTIFICATION"])
async def test_queues_that_would_split_an_app_flow_are_refused_at_start(tmp_path: Path, moved: str):
    # pdf away from email splits invoice-email; notification away from pdf splits lab-order.
    env = {f"ILS_QUEUE_{moved}_REDIS_URL": "redis://127.0.0.1:1/0"}
    system = JobSystem(make_settings("redis://127.0.0.1:6379/9", "p", tmp_path, env=env))
    try:
        with pytest.raises(ConfigurationError, match=r"flow could never be enqueued.*one server"):
            await system.start_background()
    finally:
        await system.close()
