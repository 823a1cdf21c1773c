"""Redis down for two minutes while orders keep coming: ``ils serve`` takes ``orders`` orders
(``POST /api/orders``) paced over the outage and a little before and after it; each order writes
its jobs (confirmation email, two PDFs, a notification) to the outbox in its transaction. Once
Redis is back, the relay must hand every job to BullMQ and each side effect must happen once."""

from __future__ import annotations

import asyncio
import http.client
import json
import time

from bench.chaos.audit import audit
from bench.chaos.common import Result, finish, not_completed
from bench.chaos.config import Config
from bench.chaos.mix import Expected
from bench.chaos.stack import Stack, stack
from bench.orders_server import make_token
from sqlalchemy import text

from ils.queue.embedded import free_port
from ils.queue.outbox_row import OUTBOX_TABLE, RELAYED_AT

NAME = "Redis down during orders"
#: Seconds between the orders before and after the outage (those during it are spread over it).
OUTSIDE_PACE_S = 0.2
ORDER = {
    "customer_name": "Chaos Customer",
    "lines": [{"kind": "lens", "description": "SV 1.6 AR", "quantity": 2, "unit_price": "33.33"}],
    "rx": {"right": {"sphere": "-2.25"}},
}
#: (queue, job name) of an order's jobs -> the kind the audit checks them as.
AUDITED = {
    ("email", "order-confirmation"): "email",
    ("pdf", "order-sheet"): "document",
    ("pdf", "lab-work-ticket"): "document",
    ("notification", "order"): "notification",
}


def post_order(port: int, token: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            "POST",
            "/api/orders",
            json.dumps(ORDER),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


async def web_ready(port: int, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            await asyncio.sleep(0.3)
    raise TimeoutError("the web server did not listen")


async def outbox_jobs(s: Stack) -> tuple[list[Expected], int]:
    """The outbox's jobs of the orders' kinds, and how many rows are still not relayed."""
    async with s.system.database.session() as session:
        rows = (
            await session.execute(text(f"SELECT id, queue, name, {RELAYED_AT} FROM {OUTBOX_TABLE}"))
        ).all()
    jobs = [Expected(AUDITED[(q, n)], q, str(i)) for i, q, n, _ in rows if (q, n) in AUDITED]
    return jobs, sum(1 for *_, relayed in rows if relayed is None)


async def relayed(s: Stack, timeout_s: float) -> None:
    """Until the relay has handed every outbox row to BullMQ."""
    deadline = time.monotonic() + timeout_s
    while (await outbox_jobs(s))[1]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"outbox rows not relayed {timeout_s:.0f}s after Redis was back")
        await asyncio.sleep(0.5)


async def run(cfg: Config) -> Result:
    result = Result(NAME)
    async with stack(cfg.tuning) as (s, sink):
        token = await make_token(s.system.settings.resolved_database_url())
        async with s.system.database.session() as session:  # an address mail servers take
            await session.execute(text("UPDATE users SET email = 'chaos@example.com'"))
        port = free_port()
        s.start_web(port)
        for _ in range(cfg.workers):
            s.start_worker()
        await web_ready(port, 90)
        start = time.monotonic()
        codes: list[int] = []
        down_at = max(1, cfg.orders // 10)  # a tenth of the orders before the outage, a tenth after
        up_at = cfg.orders - down_at
        step = cfg.outage_s / (up_at - down_at)
        down = back = time.time()
        for i in range(cfg.orders):
            if i == down_at:
                await asyncio.to_thread(s.server.stop)
                down = time.time()
            if i == up_at:
                await asyncio.to_thread(s.server.ensure)
                back = time.time()
            codes.append(await asyncio.to_thread(post_order, port, token))
            await asyncio.sleep(
                max(0.0, down + (i + 1 - down_at) * step - time.time())
                if down_at <= i < up_at
                else min(step, OUTSIDE_PACE_S)
            )
        down_s = back - down
        await relayed(s, timeout_s=150)
        jobs, pending = await outbox_jobs(s)
        # The orders' jobs (their ids are the outbox rows'), not the queues: the event
        # dispatcher's passes on the notification queue are not audited.
        await finish(s.system, jobs, timeout_s=cfg.tuning.bound_s * 2 + 150)
        delivered = round(time.time() - back, 1)
        result.seconds = time.monotonic() - start
        result.jobs = len(jobs)
        result.tallies = await audit(s.system, sink.messages, jobs)
        result.failed = await not_completed(s.system, jobs)
        refused = len([c for c in codes if c != 201])
        if refused:
            result.failed.append(
                {
                    "job_id": "-",
                    "state": "order refused",
                    "reason": f"{refused} orders not answered 201: {sorted(set(codes))}",
                }
            )
        result.figures = {
            "orders": cfg.orders,
            "outage_s": round(down_s, 1),
            "outbox_not_relayed": pending,
            "delivered_after_s": delivered,
            "after_s_jobs": len(jobs),
        }
    return result
