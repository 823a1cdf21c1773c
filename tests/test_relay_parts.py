"""The relay's parts on their own: the pacing (ils.queue.relay_publish.RelayTiming) and the
publisher, against the real Redis and against an address where nothing listens."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from ils.queue.broker import Broker
from ils.queue.embedded import free_port
from ils.queue.outbox_row import OutboxRow
from ils.queue.relay_publish import Publisher, RelayTiming
from ils.queue.settings import Settings
from tests.conftest import make_settings


def rows(n: int) -> list[OutboxRow]:
    return [OutboxRow.new("oma", "test-probe", {"tag": f"p{i}"}, {"attempts": 1}) for i in range(n)]


def test_the_backoff_doubles_from_the_interval_up_to_its_cap():
    timing = RelayTiming(interval_s=0.5, max_backoff_s=15.0)
    assert [timing.backoff_s(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 15.0]
    assert timing.backoff_s(10_000) == 15.0  # no overflow however long the outage


async def test_published_rows_are_one_job_each_however_often(settings: Settings):
    broker = Broker(settings)
    publisher = Publisher(broker, RelayTiming())
    batch = rows(12)  # more than one group of concurrent adds
    try:
        for _ in range(2):  # a row published twice is one job: its id is the row id
            published = await publisher.publish(batch, dt.datetime.now(dt.UTC))
            assert [r.id for r in published.added] == [r.id for r in batch]
            assert published.failed == [] and published.broker_error is None
            publisher.report(published)
        jobs = await broker.queues.get("oma").getJobs(["wait"], 0, -1)
        assert sorted(str(j.id) for j in jobs) == sorted(r.id for r in batch)
        assert not publisher.down() and publisher.retry_in_s() == 0.0
    finally:
        await broker.close()


async def test_redis_unreachable_fails_the_rest_at_once_and_backs_off(tmp_path: Path):
    url = f"redis://127.0.0.1:{free_port()}/0"  # nothing listens there
    broker = Broker(make_settings(url, "down", tmp_path))
    publisher = Publisher(broker, RelayTiming(interval_s=2.0))
    try:
        published = await publisher.publish(rows(25), dt.datetime.now(dt.UTC))
        assert published.added == [] and len(published.failed) == 25
        assert published.broker_error is not None
        # Only the first group waited for Redis; the others carry its error unread.
        assert sum(exc is published.broker_error for _, exc in published.failed) >= 15
        publisher.report(published)
        assert publisher.down() and 0 < publisher.retry_in_s() <= 2.0
        assert publisher.last_error
    finally:
        await broker.close()
