"""The event log's cursor pagination at 1,000,000 events, on SQLite and PostgreSQL
(``make bench-events``).

For each database, a fresh migrated one (a SQLite file in a temporary folder; a schema of its own
in PostgreSQL, dropped at the end) is filled in bulk with a small log (``--base``, 10,000 events)
and the page p50/p99 of ``ils.events.log.page`` is timed there: the baseline of the same run. The
log is then grown to ``--events`` (1,000,000) and timed again. Each timing is ``--pages`` (300)
pages of 50 started at random cursors across the whole log, in three shapes the API serves: the
whole log (a platform admin), one company's (of 20), and one company's of one type. Reported as
the p50 and p99 per shape and size, and the ratio of the large log's p99 to the baseline's (near
1: a page costs the same however long the log is). A deep ``OFFSET`` page (what the cursor
avoids) is timed beside it for contrast. Nothing is asserted. Rows are written with the driver's
``executemany`` per 5,000 (SQLite) or ``COPY`` (PostgreSQL), their ids made from increasing
times as recording makes them.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import func, select, text

from ils.domain.db import Database
from ils.domain.migrate import upgrade_database
from ils.domain.models.events import Event
from ils.events import log
from ils.events.catalog import EVENT_TYPES
from ils.events.envelope import new_event_id

PG_URL = os.environ.get("ILS_BENCH_PG_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test")
COMPANIES = 20
BATCH = 5_000
START = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)


def rows(start: int, count: int) -> list[dict[str, Any]]:
    """Events ``start`` .. ``start + count``, one every 30 ms from START (ids in time order)."""
    out = []
    for n in range(start, start + count):
        at = START + dt.timedelta(milliseconds=30 * n)
        out.append({
            "id": new_event_id(at), "type": EVENT_TYPES[n % len(EVENT_TYPES)], "version": 1,
            "company_id": 1 + n % COMPANIES, "actor_kind": "user", "actor_user_id": 1 + n % 50,
            "actor_job_id": None, "subject_type": "order", "subject_id": str(n // 3),
            "occurred_at": at, "data": {"order_id": n // 3 + 1, "number": f"ORD-{n:06d}"},
        })  # fmt: skip
    return out


def sqlite_value(column: str, value: Any) -> Any:
    """A value as SQLite keeps it: JSON as text, times as naive UTC text."""
    if column == "data":
        return json.dumps(value)
    if column == "occurred_at":
        return str(value.replace(tzinfo=None))
    return value


async def fill(db: Database, start: int, count: int) -> float:
    """Add ``count`` events in bulk; the seconds it took."""
    began = time.perf_counter()
    if db.dialect == "postgresql":
        columns = list(rows(0, 1)[0])
        async with db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            for at in range(start, start + count, 50_000):
                batch = rows(at, min(50_000, start + count - at))
                records = [
                    tuple(json.dumps(r[c]) if c == "data" else r[c] for c in columns) for r in batch
                ]
                schema = db.schema or "public"
                await driver.copy_records_to_table(
                    "events", records=records, columns=columns, schema_name=schema
                )
            await conn.commit()
    else:
        columns = list(rows(0, 1)[0])
        sql = f"INSERT INTO events ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
        async with db.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            for at in range(start, start + count, BATCH):
                batch = rows(at, min(BATCH, start + count - at))
                await driver.executemany(sql, [tuple(sqlite_value(c, r[c]) for c in columns)
                                               for r in batch])  # fmt: skip
            await driver.commit()
    async with db.session() as session:
        await session.execute(text("ANALYZE"))
    return time.perf_counter() - began


async def timed(call: Callable[[], Awaitable[Any]], n: int) -> tuple[float, float]:
    """p50 and p99 in milliseconds of ``n`` calls."""
    for _ in range(3):  # warm-up: connections, statement caches
        await call()
    spent = []
    for _ in range(n):
        began = time.perf_counter()
        await call()
        spent.append((time.perf_counter() - began) * 1000)
    spent.sort()
    return statistics.median(spent), spent[min(len(spent) - 1, int(len(spent) * 0.99))]


async def shapes(db: Database, size: int, pages: int, rng: random.Random) -> dict[str, Any]:
    async def page(which: log.EventFilter) -> None:
        cursor = new_event_id(START + dt.timedelta(milliseconds=30 * rng.randrange(1, size)))
        async with db.session() as session:
            await log.page(session, which, 50, cursor)

    async def deep_offset() -> None:
        async with db.session() as session:
            stmt = select(Event).order_by(Event.id.desc()).offset(size // 2).limit(50)
            (await session.scalars(stmt)).all()

    return {
        "whole log": await timed(lambda: page(log.EventFilter()), pages),
        "one company": await timed(lambda: page(log.EventFilter(company_id=7)), pages),
        "one company, one type": await timed(
            lambda: page(log.EventFilter(company_id=7, types=["order.created"])), pages
        ),
        "OFFSET half-way (contrast)": await timed(deep_offset, max(5, pages // 30)),
    }


async def run_on(db: Database, base: int, events: int, pages: int) -> dict[str, Any]:
    await upgrade_database(db)
    rng = random.Random(19)
    filled = {"base": await fill(db, 0, base)}
    small = await shapes(db, base, pages, rng)
    filled["rest"] = await fill(db, base, events - base)
    async with db.session() as session:
        total = int(await session.scalar(select(func.count()).select_from(Event)) or 0)
    large = await shapes(db, total, pages, rng)
    return {"events": total, "fill_s": filled, "base": small, "large": large}


async def pg_database() -> tuple[Database, str] | None:
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = Database(PG_URL)
    try:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        print(f"PostgreSQL at {PG_URL.split('@')[-1]} not reachable ({exc}); skipped")
        return None
    finally:
        await admin.dispose()
    return Database(PG_URL, schema=schema), schema


async def drop_schema(schema: str) -> None:
    admin = Database(PG_URL)
    try:
        async with admin.engine.begin() as conn:
            await conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    finally:
        await admin.dispose()


def report(name: str, result: dict[str, Any], base: int) -> None:
    fill = result["fill_s"]
    print(f"\n{name}: {result['events']:,} events (filled in {fill['base'] + fill['rest']:.0f} s)")
    size = f"{result['events']:,}"
    print(f"| page of 50 | p50 at {base:,} | p99 at {base:,} | p50 at {size} | p99 at {size} | "
          "p99 ratio |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for shape, (p50, p99) in result["large"].items():
        b50, b99 = result["base"][shape]
        print(f"| {shape} | {b50:.2f} ms | {b99:.2f} ms | {p50:.2f} ms | {p99:.2f} ms | "
              f"{p99 / b99:.2f}x |")  # fmt: skip


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--base", type=int, default=10_000)
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    git = ["git", "rev-parse", "--short", "HEAD"]
    # once, before anything is timed
    found = subprocess.run(git, capture_output=True, text=True, check=False)  # noqa: ASYNC221
    commit = found.stdout.strip()
    print(f"commit {commit}, python {sys.version.split()[0]}")
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory() as tmp:
            db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'events.db'}")
            try:
                report("SQLite", await run_on(db, args.base, args.events, args.pages), args.base)
            finally:
                await db.dispose()
    if args.only != "sqlite" and (found := await pg_database()) is not None:
        db, schema = found
        try:
            report("PostgreSQL", await run_on(db, args.base, args.events, args.pages), args.base)
        finally:
            await db.dispose()
            await drop_schema(schema)


if __name__ == "__main__":
    asyncio.run(main())
