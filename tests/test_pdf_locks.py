"""A render far longer than the pdf queue's lock: the worker keeps renewing the job's lock while
the render process is busy, so the job is neither stalled nor run twice (guard 7).

The render blocks on a named pipe until the test releases it; the test counts the renewals as
Redis announces them (keyspace notifications, switched on in a server of the test's own), not a
length of time.
"""

from __future__ import annotations

import asyncio
import os
from functools import partial
from pathlib import Path

import redis.asyncio as aredis

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.jobs.pdf.pool import RenderPool
from ils.jobs.resources import Resources
from ils.queue.embedded import EmbeddedServer
from tests.conftest import make_settings
from tests.support.pdf_renderers import blocking
from tests.support.pdf_world import make_pdf_world
from tests.support.running import running

RENEWALS = 6  # with a 2 s lock renewed every 1 s: past lock + 2 x stalled interval, twice over


async def renewals_seen(client: aredis.Redis, key: str, wanted: int, timeout_s: float) -> int:
    """Count the writes Redis announces on ``key`` (each renewal sets the lock again with a new
    expiry) until there have been ``wanted``; the lock must be alive after each one."""
    seen = 0
    pubsub = client.pubsub()
    await pubsub.subscribe(f"__keyspace@0__:{key}")
    try:
        async with asyncio.timeout(timeout_s):
            async for message in pubsub.listen():
                if message["type"] != "message" or message["data"] != b"set":
                    continue
                ttl = await client.pttl(key)
                assert ttl > 0, f"the lock {key} expired (ttl {ttl})"
                seen += 1
                if seen == wanted:
                    break
    finally:
        await pubsub.aclose()
    return seen


async def test_a_long_render_keeps_its_lock_and_runs_once(
    db: Database, own_server: EmbeddedServer, prefix: str, tmp_path: Path
):
    redis_url = own_server.ensure()
    client = aredis.from_url(redis_url)
    await client.config_set("notify-keyspace-events", "K$")  # announce string writes per key
    w = await make_pdf_world(db)
    gate = tmp_path / "gate"
    gate.mkdir()
    os.mkfifo(gate / "started")
    os.mkfifo(gate / "release")
    env = {"ILS_QUEUE_PDF_LOCK_DURATION_MS": "2000", "ILS_QUEUE_PDF_STALLED_INTERVAL_MS": "1000",
           "ILS_QUEUE_PDF_RATE_MAX": "none"}  # fmt: skip
    settings = make_settings(redis_url, prefix, tmp_path, env=env)
    pool = RenderPool(1, renderer=partial(blocking, gate))
    system = JobSystem(settings, database=db, resources=Resources(pdf_renderer=pool))
    try:
        job = await system.producer.enqueue("pdf", "order-sheet", {"orderId": w.order_id})
        async with running(system, "pdf"):
            started = await asyncio.wait_for(
                asyncio.to_thread((gate / "started").read_text), timeout=60
            )
            assert started == "started\n"
            lock = f"{prefix}:pdf:{job.job_id}:lock"
            assert await renewals_seen(client, lock, RENEWALS, timeout_s=60) == RENEWALS
            await asyncio.to_thread((gate / "release").write_text, "go")
            view = await system.admin.wait_for_job("pdf", job.job_id, timeout_s=60)
    finally:
        await client.aclose()
        await system.close()
        await pool.close()
    assert view.state == "completed", view.failed_reason
    assert view.attempts_made == 1
    assert (gate / "runs").read_text() == "run\n"  # rendered once: never stalled and re-run
