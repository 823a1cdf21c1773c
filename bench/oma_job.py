"""OMA files per second through the ``process-oma-file`` job path (BullMQ job, base64 payload,
parse, validate and measure, find the order, store the original and the row, queue the owner's
notification and the trace's drawing, then that drawing as a job of its own), next to the bare
parser (``parse`` + ``validate``) of the same bytes in this process, in the same run.

A middle step, the handler alone (the job's work called in a loop, no queue), splits the cost
between the database and file writes and the queue. A floor, the parse job: the same files
through jobs of a type whose handler only decodes, parses and validates (``bench-oma-parse``,
declared in this module), one job a file: the most any job path that reads the file in its
job can keep of the bare parser's rate, with nothing stored, notified or drawn. Each path's
CPU time per file (this process's, its threads' included: the job path's workers, relay and
SQLite run here too; the Redis server's not) is reported beside its rate: on a shared machine
it moves less than the wall time does. Run: ``.venv/bin/python bench/oma_job.py
[--files N] [--concurrency C] [--redis-url URL]`` (or ``make bench-oma-job``). SQLite in a
temporary directory; Redis on this machine under a fresh key prefix, deleted afterwards. The
goal (the job path keeps at least 70% of the bare parser's rate) is printed, never asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import datetime as dt
import logging
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.*

from tests.oma.samples import rectangular_job
from tests.support.databases import create_schema
from tests.support.oma_world import OmaWorld, make_oma_world

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.jobs.oma.handlers import ProcessOmaFile
from ils.jobs.oma.process import process
from ils.oma import parse
from ils.oma.validate import validate
from ils.queue.context import JobContext
from ils.queue.declare import job
from ils.queue.registry import Payload
from ils.settings import load_settings
from oma_parse import commit
from redis_scope import DEFAULT_URL, checked_url, delete_prefix, new_prefix
from reporting import write_json

RESULTS = Path(__file__).resolve().parent / "results" / "oma_job.json"
GOAL = 0.70
PARSE_JOB = "bench-oma-parse"


class ParsePayload(Payload):
    """The file in base64, as ``process-oma-file`` takes it."""

    content: str


async def parse_only(payload: ParsePayload, ctx: JobContext[None]) -> None:
    """The floor: decode, parse and validate, nothing else."""
    validate(parse(base64.b64decode(payload.content)))


PARSE_ONLY = job(ParsePayload, queue="oma", name=PARSE_JOB,
                 description="parses an OMA file (benchmarks)")(parse_only)  # fmt: skip


def files(n: int, points: int) -> list[bytes]:
    """``n`` distinct files (a vendor record numbers each: the same bytes would be deduped)."""
    base = rectangular_job(points, 52.0, 34.0)
    return [base + f"_BENCH={i}\r\n".encode() for i in range(n)]


class Timed:
    """Wall and CPU seconds (this process, every thread) of a block."""

    def __enter__(self) -> Timed:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *_: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu

    def per_file(self, n: int) -> tuple[float, float]:
        """(files per wall second, CPU milliseconds per file)."""
        return n / self.wall, 1000 * self.cpu / n


def bare_rate(data: list[bytes]) -> tuple[float, float]:
    validate(parse(data[0]))  # warm-up
    with Timed() as timed:
        for one in data:
            validate(parse(one))
    return timed.per_file(len(data))


def settings(url: str, prefix: str, workdir: Path, concurrency: int) -> Any:
    return load_settings({
        "REDIS_URL": url, "ILS_REDIS_PREFIX": prefix, "ILS_VAR_DIR": str(workdir / "var"),
        "ILS_QUEUE_OMA_CONCURRENCY": str(concurrency), "ILS_QUEUE_OMA_DRAIN_DELAY_S": "1",
        "ILS_IMPORTS": "oma_job",
    })  # fmt: skip


def payload(world: OmaWorld, data: bytes) -> dict[str, Any]:
    return {"companyId": world.lab_id, "orderId": world.order_id,
            "content": base64.b64encode(data).decode()}  # fmt: skip


async def handler_rate(system: JobSystem, world: OmaWorld, data: list[bytes]
                       ) -> tuple[float, float]:  # fmt: skip
    """Files/s (and CPU ms a file) of the job's work called directly, one after the other (no
    queue, no worker)."""
    log = logging.LoggerAdapter(logging.getLogger("bench"))
    with Timed() as timed:
        for n, one in enumerate(data):
            ctx = JobContext(job_id=f"direct-{n}", queue="oma", name="process-oma-file",
                             attempt=1, max_attempts=1, logger=log,
                             resources=system.resources)  # fmt: skip
            await process(ProcessOmaFile.model_validate(payload(world, one)), ctx)
    return timed.per_file(len(data))


async def job_rate(system: JobSystem, world: OmaWorld, data: list[bytes], name: str = ""
                   ) -> tuple[float, float]:  # fmt: skip
    """Files/s (and CPU ms a file) from enqueueing every file (workers running) to the last one
    processed and drawn (two jobs a file), read from the queue's counts every 20 ms; with
    ``name`` (the parse job's), one job of that type a file."""
    before = await system.admin.counts("oma")
    jobs = len(data) if name else 2 * len(data)
    with Timed() as timed:
        for one in data:
            data_ = {"content": payload(world, one)["content"]} if name else payload(world, one)
            await system.producer.enqueue("oma", name or "process-oma-file", data_)
        while True:
            counts = await system.admin.counts("oma")
            if counts["failed"] > before["failed"]:
                raise RuntimeError("an oma job failed")
            if counts["completed"] - before["completed"] >= jobs:
                break
            await asyncio.sleep(0.02)
    return timed.per_file(len(data))


async def run(args: argparse.Namespace) -> dict[str, Any]:
    data = files(args.files, args.points)
    bare, bare_cpu = bare_rate(data)
    prefix = new_prefix()
    with tempfile.TemporaryDirectory(prefix="ils-bench-oma-") as tmp:
        workdir = Path(tmp)
        db = Database(f"sqlite+aiosqlite:///{workdir / 'bench.db'}")
        system = JobSystem(settings(args.redis_url, prefix, workdir, args.concurrency), database=db)
        try:
            await create_schema(db)
            world = await make_oma_world(db)
            direct, direct_cpu = await handler_rate(system, world, data)
            runtime = system.runtime(("oma",))
            await runtime.start()
            try:
                await job_rate(system, world, files(args.concurrency, args.points))  # warm-up
                queued, queued_cpu = await job_rate(system, world, data)
                floor, floor_cpu = await job_rate(system, world, data, PARSE_JOB)
            finally:
                await runtime.stop()
        finally:
            await system.close()
            await db.dispose()
            delete_prefix(args.redis_url, prefix)
    return {"commit": commit(), "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "load_average": [round(x, 2) for x in os.getloadavg()],
            "files": args.files, "points": args.points,
            "concurrency": args.concurrency, "cpus": os.cpu_count(), "goal": GOAL,
            "bare_files_s": round(bare, 1), "handler_files_s": round(direct, 1),
            "handler_ratio": round(direct / bare, 4), "job_files_s": round(queued, 1),
            "job_ratio": round(queued / bare, 4),
            "bare_cpu_ms": round(bare_cpu, 3), "handler_cpu_ms": round(direct_cpu, 3),
            "handler_cpu_ratio": round(bare_cpu / direct_cpu, 4),
            "job_cpu_ms": round(queued_cpu, 3), "job_cpu_ratio": round(bare_cpu / queued_cpu, 4),
            "parse_job_files_s": round(floor, 1), "parse_job_ratio": round(floor / bare, 4),
            "parse_job_cpu_ms": round(floor_cpu, 3),
            "parse_job_cpu_ratio": round(bare_cpu / floor_cpu, 4),
            }  # fmt: skip


def table(r: dict[str, Any]) -> str:
    return "\n".join([
        f"commit {r['commit']}, {r['date']}, load average {r['load_average']}, "
        f"{r['files']} files of {r['points']} points a side, oma concurrency {r['concurrency']}",
        "",
        "| path | files/s | / bare parser | CPU ms a file | bare's CPU / this |",
        "|---|---:|---:|---:|---:|",
        f"| parse + validate (bare) | {r['bare_files_s']:,.0f} | 1.000 | {r['bare_cpu_ms']:.2f} "
        "| 1.000 |",
        f"| the handler alone (no queue) | {r['handler_files_s']:,.0f} | {r['handler_ratio']} "
        f"| {r['handler_cpu_ms']:.2f} | {r['handler_cpu_ratio']} |",
        f"| the job path (process + render) | {r['job_files_s']:,.0f} | {r['job_ratio']} "
        f"| {r['job_cpu_ms']:.2f} | {r['job_cpu_ratio']} |",
        f"| the parse job alone (the floor) | {r['parse_job_files_s']:,.0f} "
        f"| {r['parse_job_ratio']} | {r['parse_job_cpu_ms']:.2f} | {r['parse_job_cpu_ratio']} |",
    ])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=200)
    parser.add_argument("--points", type=int, default=2048, help="trace points a side")
    parser.add_argument("--concurrency", type=int, default=2, help="the oma queue's (default 2)")
    parser.add_argument("--redis-url", default=DEFAULT_URL, help=f"default {DEFAULT_URL}")
    args = parser.parse_args(argv)
    args.redis_url = checked_url(args.redis_url)
    result = asyncio.run(run(args))
    write_json(result, RESULTS)
    print(table(result))
    verdict = "meets" if result["job_ratio"] >= GOAL else "misses"
    print(f"\njob path ratio {result['job_ratio']}: {verdict} the goal of {GOAL} (information)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
