"""Benchmark: a mixed no-op load on two queues, on one Redis server against the two queues sharded
over two servers (issue 21: a queue's ``redis_url``), with the same worker processes.

Two embedded Valkey servers are started on free loopback ports for the whole run (both always
up, so the layouts differ only in where the ``oma`` queue lives). One trial: pause both queues,
pre-fill N no-op jobs in each (``notification`` and ``oma``, ``bench/noop_jobs.py``), start P
worker processes, each a ``WorkerRuntime`` of both queues, wait until every worker blocks on its
paused queue; resume both queues (the clock starts) and poll their counts until nothing waits or
runs (the clock stops). Layouts: ``one`` (both queues on server A) and ``two`` (``oma`` on
server B). Trials alternate layouts; the table shows the medians and the ratio two / one.

With ``--cluster`` the second layout is ``cluster`` instead: a Redis Cluster of three servers
(``bench/redis_server.py``, ``own_cluster``) started beside A, both queues on it with
``ILS_REDIS_CLUSTER`` (``notification`` and ``oma`` hash to two different nodes' slots).

Besides jobs/s each trial records the CPU the worker processes and each Redis server spent
(``INFO cpu``): where the time goes, which says what caps the ratio on this machine.

    .venv/bin/python bench/shards.py [--jobs N] [--processes P] [--concurrency C] [--trials T]
                                     [--cluster]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
import time
from multiprocessing.sharedctypes import Synchronized
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import redis

from drain_throughput import PENDING_STATES, _serve, _stop_processes, _until_idle, _wait_ready
from ils.jobs import build_registry
from ils.queue.broker import Broker
from ils.queue.embedded import EmbeddedServer
from ils.queue.producer import job_options
from ils.queue.runtime import WorkerRuntime
from ils.queue.settings import QUEUE_NAMES, Settings
from ils.settings import load_settings
from noop_jobs import JOB_NAME, MODULE, filler, payload_data
from oma_parse import commit
from redis_scope import new_prefix
from redis_server import own_cluster

QUEUES = ("notification", "oma")
SHARDED = "oma"  # on server B in the ``two`` layout
READY_TIMEOUT_S = 60.0
RESULTS = Path(__file__).parent / "results" / "shards.json"
CLUSTER_RESULTS = Path(__file__).parent / "results" / "shards_cluster.json"

Where = tuple[str, str | None, str, int, bool]


def settings_for(
    main: str, shard: str | None, prefix: str, concurrency: int, cluster: bool = False
) -> Settings:
    """Both queues at ``concurrency``, no rate limit, no fallback (no database here); ``oma`` on
    ``shard`` when given; ``cluster``: ``main`` is a node of a Redis Cluster."""
    env = {"REDIS_URL": main, "ILS_REDIS_PREFIX": prefix, "ILS_IMPORTS": MODULE,
           "ILS_SHUTDOWN_GRACE_S": "5", "ILS_REDIS_CLUSTER": str(cluster).lower()}  # fmt: skip
    for q in QUEUES:
        env[f"ILS_QUEUE_{q.upper()}_CONCURRENCY"] = str(concurrency)
        env[f"ILS_QUEUE_{q.upper()}_RATE_MAX"] = "none"
    for q in QUEUE_NAMES:
        env[f"ILS_QUEUE_{q.upper()}_FALLBACK"] = "raise"
    if shard is not None:
        env[f"ILS_QUEUE_{SHARDED.upper()}_REDIS_URL"] = shard
    return load_settings(env=env, cli={"redis_wait_s": 10.0})


async def _run_worker(
    settings: Settings, ready: Event, stop: Event, cpu_s: Synchronized[float], max_s: float
) -> None:
    broker = Broker(settings)
    runtime = WorkerRuntime(settings, build_registry(settings.imports), broker, QUEUES)
    try:
        await runtime.start()
        await runtime.wait_started(READY_TIMEOUT_S)
        for q in QUEUES:
            await _until_idle(lambda q=q: runtime.workers.get(q), READY_TIMEOUT_S)  # type: ignore[misc]
        await _serve(ready, stop, cpu_s, max_s)
    finally:
        await runtime.stop(grace_s=5)
        await broker.close()


def worker_process(
    where: Where,
    ready: Event,
    stop: Event,
    cpu_s: Synchronized[float],
    max_s: float,
) -> None:
    """Entry point of one spawned worker process; ``where``: :func:`settings_for`'s arguments."""
    asyncio.run(_run_worker(settings_for(*where), ready, stop, cpu_s, max_s))


def redis_cpu_s(url: str) -> float:
    client = redis.Redis.from_url(url, socket_timeout=5)
    try:
        info = client.info("cpu")
    finally:
        client.close()
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def trial(
    layout: str, urls: tuple[str, ...], jobs: int, processes: int, concurrency: int
) -> dict[str, Any]:
    """Drain ``jobs`` no-op jobs from each of the two queues in ``layout`` (``one``: on A,
    ``urls[0]``; ``two``: ``oma`` on B, ``urls[1]``; ``cluster``: both on the cluster whose first
    node is ``urls[1]``). Every server of ``urls`` has its CPU time measured."""
    where: Where = (
        urls[1] if layout == "cluster" else urls[0], urls[1] if layout == "two" else None,
        new_prefix(), concurrency, layout == "cluster",
    )  # fmt: skip
    settings = settings_for(*where)
    registry = build_registry(settings.imports)
    broker = Broker(settings)
    queues = {q: broker.queues.get(q) for q in QUEUES}
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    ready = [ctx.Event() for _ in range(processes)]
    cpu = [ctx.Value("d", 0.0) for _ in range(processes)]
    workers: list[Any] = []
    try:
        blob = filler(200)
        for q, queue in queues.items():
            opts = job_options(registry.get(q, JOB_NAME), settings.queue(q), None)
            await queue.pause()
            if where[4]:  # a cluster's MULTI/EXEC (addBulk's) loads no script: on every node first
                for script in queue.backend.connection.commands.values():
                    await queue.client.script_load(script.script)
            for first in range(0, jobs, 500):
                batch = range(first, min(jobs, first + 500))
                await queue.addBulk(
                    [{"name": JOB_NAME, "data": payload_data(s, blob), "opts": opts} for s in batch]
                )
        for event, cpu_s in zip(ready, cpu, strict=True):
            args = (where, event, stop, cpu_s, 600.0)
            p = ctx.Process(target=worker_process, args=args, daemon=True)
            p.start()
            workers.append(p)
        await _wait_ready(workers, ready)
        redis_before = [redis_cpu_s(u) for u in urls]
        started = time.perf_counter()
        await asyncio.gather(*(queue.resume() for queue in queues.values()))
        while True:
            counts = await asyncio.gather(
                *(q.getJobCounts(*PENDING_STATES) for q in queues.values())
            )
            if not any(sum(c.values()) for c in counts):
                break
            await asyncio.sleep(0.01)
        seconds = time.perf_counter() - started
        redis_after = [redis_cpu_s(u) for u in urls]
        for q, queue in queues.items():
            done = await queue.getJobCounts("completed", "failed")
            if done["failed"] or done["completed"] != jobs:
                raise RuntimeError(f"{layout}/{q}: expected {jobs} completed, 0 failed: {done}")
    finally:
        await asyncio.to_thread(_stop_processes, workers, stop)
        for queue in queues.values():
            await queue.obliterate({"force": True})
        await broker.close()
    total = jobs * len(QUEUES)
    return {
        "layout": layout,
        "jobs_per_s": round(total / seconds, 1),
        "seconds": round(seconds, 3),
        "worker_cpu_us_per_job": round(sum(c.value for c in cpu) / total * 1e6, 1),
        "redis_cpu_us_per_job": [round((b - a) / total * 1e6, 1)
                                 for a, b in zip(redis_before, redis_after, strict=True)],
    }  # fmt: skip


async def _trials(args: argparse.Namespace, urls: tuple[str, ...], other: str) -> list[Any]:
    """A warm-up, then ``args.trials`` of each layout, alternating which goes first."""
    await trial(other, urls, min(args.jobs, 500), args.processes, args.concurrency)
    trials = []
    for i in range(args.trials):
        for layout in ("one", other) if i % 2 == 0 else (other, "one"):
            trials.append(await trial(layout, urls, args.jobs, args.processes, args.concurrency))
            print(json.dumps(trials[-1]), file=sys.stderr)
    return trials


async def run(args: argparse.Namespace) -> dict[str, Any]:
    load_start = [round(x, 2) for x in os.getloadavg()]
    other = "cluster" if args.cluster else "two"
    with tempfile.TemporaryDirectory(prefix="ils-bench-shards-") as tmp:
        servers = [
            EmbeddedServer(Path(tmp) / name) for name in ("a", "b")[: 1 + (not args.cluster)]
        ]
        try:
            if args.cluster:
                with own_cluster(tmp) as nodes:
                    trials = await _trials(args, (servers[0].ensure(), *nodes), other)
            else:
                trials = await _trials(args, tuple(s.ensure() for s in servers), other)
        finally:
            for server in servers:
                server.stop()

    def median(layout: str, key: str) -> float:
        return statistics.median(t[key] for t in trials if t["layout"] == layout)

    one, two = median("one", "jobs_per_s"), median(other, "jobs_per_s")
    return {
        "commit": commit(), "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "load_average_start": load_start,
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "cpus": os.cpu_count(), "jobs_per_queue": args.jobs, "processes": args.processes,
        "concurrency": args.concurrency, "layouts": ["one", other], "one_jobs_s": one,
        f"{other}_jobs_s": two, "ratio": round(two / one, 3), "goal": 1.6,
        "one_worker_cpu_us": median("one", "worker_cpu_us_per_job"),
        f"{other}_worker_cpu_us": median(other, "worker_cpu_us_per_job"),
        "trials": trials,
    }  # fmt: skip


LABELS = {"one": "one server", "two": "two servers", "cluster": "3-node cluster"}


def table(r: dict[str, Any]) -> str:
    rows = []
    for layout in r["layouts"]:
        jobs_s, cpu = r[f"{layout}_jobs_s"], r[f"{layout}_worker_cpu_us"]
        per_server = [t["redis_cpu_us_per_job"] for t in r["trials"] if t["layout"] == layout]
        redis_cpu = [statistics.median(column) for column in zip(*per_server, strict=True)]
        rows.append(f"| {LABELS[layout]} | {jobs_s:,.0f} | {jobs_s / r['one_jobs_s']:.3f} | {cpu} "
                    f"| {', '.join(f'{c:.1f}' for c in redis_cpu)} |")  # fmt: skip
    return "\n".join([
        f"commit {r['commit']}, {r['date']}, load average {r['load_average_start']} -> "
        f"{r['load_average_end']}, {r['cpus']} CPUs; {r['jobs_per_queue']} jobs a queue, "
        f"{r['processes']} worker processes, concurrency {r['concurrency']} a queue",
        "",
        "| layout | jobs/s | / one server | worker CPU µs a job | Redis CPU µs a job (each) |",
        "|---|---:|---:|---:|---|",
        *rows,
        "",
        f"goal: {LABELS[r['layouts'][1]]} >= {r['goal']}x one (information, not a pass/fail); "
        f"medians of {len(r['trials']) // 2} trials a layout",
    ])  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=5000, help="jobs a queue per trial")
    parser.add_argument("--processes", type=int, default=2, help="worker processes")
    parser.add_argument("--concurrency", type=int, default=50, help="concurrency a queue")
    parser.add_argument("--trials", type=int, default=3, help="trials per layout")
    parser.add_argument("--cluster", action="store_true",
                        help="against a 3-node Redis Cluster instead of two servers")  # fmt: skip
    parser.add_argument("--no-record", action="store_true", help="do not write the results")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    print(table(result))
    if not args.no_record:
        (CLUSTER_RESULTS if args.cluster else RESULTS).write_text(
            json.dumps(result, indent=2) + "\n"
        )


if __name__ == "__main__":
    main()
