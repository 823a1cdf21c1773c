"""The one Queue cache (ils.queue.queues): the producer, the relay and the admin layer share its
Queue objects, which share one Redis client, closed once."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aredis

from ils.bootstrap import JobSystem
from ils.errors import ConfigurationError
from ils.queue.broker import make_client
from ils.queue.engine_add import bulk_job
from ils.queue.queues import Queues
from ils.queue.settings import Settings


async def connections_named(admin: aredis.Redis, name: str) -> int:
    return sum(1 for c in await admin.client_list() if c.get("name") == name)


async def test_one_queue_per_name_over_one_client_closed_once(settings: Settings):
    name = f"ils-queues-{uuid.uuid4().hex[:8]}"
    made: list[aredis.Redis] = []

    def connect(url: str, use: str) -> aredis.Redis:
        assert use == "producer"
        made.append(make_client(url, "producer", name=name))
        return made[-1]

    queues = Queues(settings, lambda _queue: settings.redis_url or "", connect)
    admin = make_client(settings.redis_url or "", "admin")
    try:
        assert made == []  # nothing connects before a queue is used
        email = queues.get("email")
        assert queues.get("email") is email
        for queue in ("email", "pdf", "oma"):
            await queues.get(queue).getJobCounts("waiting")
        assert len(made) == 1  # three queues, one client, one connection
        assert await connections_named(admin, name) == 1

        await queues.close()
        assert await connections_named(admin, name) == 0
        await queues.close()  # idempotent: nothing left to close
        assert len(made) == 1

        assert queues.get("email") is not email  # after close: a fresh queue and client
        assert len(made) == 2
        await queues.close()
    finally:
        await admin.aclose()


def test_an_unknown_queue_name_is_a_configuration_error(settings: Settings):
    queues = Queues(settings, lambda _q: pytest.fail("no URL"), lambda *_: pytest.fail("no client"))
    with pytest.raises(ConfigurationError, match="pfd"):
        queues.get("pfd")


async def test_producer_relay_and_admin_share_the_brokers_queues(system: JobSystem):
    for name in ("email", "pdf"):
        shared = system.broker.queues.get(name)
        assert system.producer.queue(name) is shared
        assert system.admin.queue(name) is shared
    job = await system.producer.enqueue("oma", "test-probe", {"tag": "shared"})
    assert (await system.admin.get_job("oma", job.job_id)).state == "waiting"


async def test_adds_go_over_one_bounded_client_per_server_closed_once(settings: Settings):
    name = f"ils-queues-{uuid.uuid4().hex[:8]}"
    made: list[tuple[str, aredis.Redis]] = []

    def connect(url: str, use: str) -> aredis.Redis:
        made.append((use, make_client(url, use, name=f"{name}-{use}")))  # type: ignore[arg-type]
        return made[-1][1]

    queues = Queues(settings, lambda _queue: settings.redis_url or "", connect)
    admin = make_client(settings.redis_url or "", "admin")
    try:
        adder = queues.adder("oma")
        assert queues.adder("oma") is adder and adder.queue is queues.get("oma")
        assert queues.adder("pdf").client is adder.client  # one per server
        assert [use for use, _ in made] == ["producer", "bounded"]
        bounded = made[1][1]
        # The bounded client sets no timer per write or read: each add is bounded as a whole.
        assert bounded.connection_pool.connection_kwargs["socket_timeout"] is None
        assert made[0][1].connection_pool.connection_kwargs["socket_timeout"] == 5.0
        job = bulk_job(adder, "test-probe", '{"tag":"b"}', {"jobId": "bulk-1"}, None)
        assert await adder.add_many([job]) == ["bulk-1"]
        assert await connections_named(admin, f"{name}-bounded") == 1

        await queues.close()
        assert await connections_named(admin, f"{name}-bounded") == 0
        assert queues.adder("oma") is not adder  # after close: a fresh adder and clients
        await queues.close()
    finally:
        await admin.aclose()
