"""The live hub of a web process: one subscription fans events out to the right user's inboxes
only, and after Redis restarts it subscribes again and tells every inbox to resync (events
published meanwhile were lost to it)."""

from __future__ import annotations

import asyncio
from pathlib import Path

from ils.jobs.notification import LiveEvent, NotificationPublisher
from ils.queue.broker import Broker
from ils.queue.embedded import EmbeddedServer
from ils.web.live import RESYNC, LiveHub
from tests.conftest import make_settings

WAIT_S = 20


def note(user_id: int, ident: int) -> LiveEvent:
    return LiveEvent("notification", user_id, notification_id=ident)


async def test_the_hub_fans_out_by_user_and_resyncs_after_redis_restarts(
    own_server: EmbeddedServer, tmp_path: Path
):
    url = own_server.ensure()
    broker = Broker(make_settings(url, "hub", tmp_path))
    hub, publisher = LiveHub(broker), NotificationPublisher(broker)
    hub.start()
    try:
        assert await hub.wait_ready(WAIT_S)
        ann_1, ann_2, bob = hub.register(1), hub.register(1), hub.register(2)
        assert hub.connected == 3
        await publisher.publish([note(1, 10), note(2, 11)])
        for inbox in (ann_1, ann_2):
            assert await asyncio.wait_for(inbox.get(), WAIT_S) == note(1, 10)
        assert await asyncio.wait_for(bob.get(), WAIT_S) == note(2, 11)

        await asyncio.to_thread(own_server.stop)
        await publisher.close()  # its connection died with the server
        assert await asyncio.to_thread(own_server.ensure) == url
        for inbox in (ann_1, ann_2, bob):
            assert await asyncio.wait_for(inbox.get(), WAIT_S) is RESYNC
        assert await hub.wait_ready(WAIT_S)
        await publisher.publish([note(2, 12)])
        assert await asyncio.wait_for(bob.get(), WAIT_S) == note(2, 12)
        hub.unregister(bob)
        assert hub.connected == 2
    finally:
        await hub.stop()
        await publisher.close()
        await broker.close()
