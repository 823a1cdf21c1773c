"""The cheaper per-job path keeps its meaning (issue 21): the data size measured in bytes
whatever the shortcut, metrics totals exact across flushes with fewer fields written, and a
job's log fields still stamped on its lines."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aredis
from hypothesis import given
from hypothesis import strategies as st

from ils.logs import JOB_FIELDS, JobContextFilter, job_log_context
from ils.queue import keys
from ils.queue.metrics import MetricsReader, MetricsRecorder
from ils.queue.undecodable import data_bytes_over


@given(st.text(max_size=300), st.integers(min_value=0, max_value=1300))
def test_data_size_is_its_utf8_bytes_with_or_without_the_shortcut(text: str, limit: int) -> None:
    size = len(text.encode())
    expected = size if size > limit else None
    assert data_bytes_over(text, limit) == expected
    assert data_bytes_over(text.encode(), limit) == expected


def test_no_limit_or_no_data_is_never_over() -> None:
    assert data_bytes_over("x" * 10_000, None) is None
    assert data_bytes_over(None, 10) is None


def test_a_job_log_context_stamps_its_fields_and_is_gone_after() -> None:
    stamp = JobContextFilter()
    inside = logging.LogRecord("t", logging.INFO, "f", 1, "m", None, None)
    with job_log_context("j-7", "pdf", "invoice", 4):
        assert stamp.filter(inside)
    assert [getattr(inside, f) for f in JOB_FIELDS] == ["j-7", "pdf", "invoice", 4]
    outside = logging.LogRecord("t", logging.INFO, "f", 1, "m", None, None)
    stamp.filter(outside)
    assert not hasattr(outside, "job_id")


@pytest.fixture
async def client(redis_url: str) -> AsyncIterator[aredis.Redis]:
    conn = aredis.from_url(redis_url, decode_responses=True)
    yield conn
    await conn.aclose()


async def test_metrics_stay_exact_over_flushes_with_no_count_field(
    client: aredis.Redis, prefix: str
) -> None:
    recorder = MetricsRecorder(client, prefix)
    at = 1_800_000_000.0
    for flush in range(3):
        for i in range(5):
            recorder.record("oma", "probe", "completed", 0.001 * i, at=at + flush)
        recorder.record("oma", "probe", "failed", 2.0, at=at + flush)
        await recorder.flush()
    durations = await client.hgetall(keys.job_durations(prefix))
    assert not [f for f in durations if f.endswith("|count")]
    [series] = await MetricsReader(lambda _queue=None: client, prefix).totals()
    assert series.outcomes == {"completed": 15, "failed": 3, "retried": 0}
    assert series.count == 18 and series.buckets[-1] == ("+Inf", 18)
    hour_key = keys.throughput(prefix, "oma", int(at // 3600))
    assert 0 < await client.ttl(hour_key) <= 25 * 3600


async def test_an_older_writers_count_field_is_not_counted_twice(
    client: aredis.Redis, prefix: str
) -> None:
    await client.hset(
        keys.job_durations(prefix), mapping={"oma|probe|0.005": 2, "oma|probe|count": 2}
    )
    recorder = MetricsRecorder(client, prefix)
    recorder.record("oma", "probe", "completed", 0.001)
    await recorder.flush()
    [series] = await MetricsReader(lambda _queue=None: client, prefix).totals()
    assert series.count == 3
