"""Benchmark: a batch of N no-op jobs (10,000 by default) with one completion callback.

One run: build the batch (N ``bench-noop`` steps and a ``bench-batch-done`` callback, each
payload validated), add it (one MULTI/EXEC through BullMQ's ``FlowProducer``), read its progress
once with every job pending (the admin layer's Lua count over the callback's children), then run
our ``WorkerRuntime`` on ``oma`` in this process until the callback has finished, reading the
progress every half second. It checks that the callback ran exactly once and saw N completed
jobs, and reports the times and the Redis memory the batch's bookkeeping takes (the callback's
pending set, at its largest, before any job ran).

    .venv/bin/python bench/batch_callback.py [--jobs 10000] [--concurrency 50]
                                             [--redis-url redis://127.0.0.1:6379/9]

Talks only to a Redis on this machine, under a fresh key prefix it deletes at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from ils.queue import keys
from ils.queue.admin import QueueAdmin
from ils.queue.flows import send_batch
from noop_jobs import BATCH_DONE, NOOP, callback_runs_key
from redis_scope import (
    DEFAULT_URL,
    OurSide,
    checked_url,
    delete_prefix,
    new_prefix,
    server_version,
)

RESULTS = Path(__file__).resolve().parent / "results"


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def run(url: str, jobs: int, concurrency: int, timeout_s: float) -> dict[str, Any]:
    prefix = new_prefix()
    ours = OurSide(url, prefix, concurrency)
    admin = QueueAdmin(ours.settings, ours.broker, ours.registry)
    out: dict[str, Any] = {"jobs": jobs, "concurrency": concurrency}
    try:
        started = time.perf_counter()
        steps = [NOOP.step(seq=i, blob="") for i in range(jobs)]
        callback = BATCH_DONE.step(seq=-1, blob="")
        out["build_s"] = time.perf_counter() - started

        started = time.perf_counter()
        sent = await send_batch(callback, steps, producer=ours.producer)
        out["add_s"] = time.perf_counter() - started
        batch_id = sent.job_id
        queue = ours.broker.queues.get("oma")
        client = ours.broker.admin_client
        out["pending_set_bytes"] = int(
            await client.memory_usage(keys.job_dependencies(queue, batch_id)) or 0
        )
        started = time.perf_counter()
        first = await admin.batches.get(batch_id)
        out["status_read_all_pending_ms"] = (time.perf_counter() - started) * 1000
        assert first.counts["pending"] == jobs and first.counts["waiting"] == jobs, first

        runtime = ours.runtime()
        reads: list[float] = []
        samples: list[dict[str, int]] = []
        started = time.perf_counter()
        await runtime.start()
        try:
            deadline = time.monotonic() + timeout_s
            while True:
                t0 = time.perf_counter()
                view = await admin.batches.get(batch_id)
                reads.append((time.perf_counter() - t0) * 1000)
                samples.append(view.counts)
                if view.done:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"batch not done after {timeout_s}s: {view.counts}")
                await asyncio.sleep(0.5)
            out["drain_and_callback_s"] = time.perf_counter() - started
        finally:
            await runtime.stop()
        final = await admin.get_job("oma", batch_id)
        runs = int(await client.get(callback_runs_key(prefix)) or 0)
        out |= {
            "callback_state": final.state,
            "callback_runs": runs,
            "callback_saw": final.return_value["counts"] if final.return_value else None,
            "final_counts": view.counts,
            "status_reads": len(reads),
            "status_read_max_ms": max(reads),
            "progress_samples": samples[:: max(1, len(samples) // 8)],
        }
        out["ok"] = (
            runs == 1
            and final.state == "completed"
            and out["callback_saw"] == {"completed": jobs, "failed": 0, "pending": 0}
        )
        return out
    finally:
        await ours.close()
        delete_prefix(url, prefix)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--redis-url", default=DEFAULT_URL)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--timeout-s", type=float, default=600.0)
    args = parser.parse_args()
    url = checked_url(args.redis_url)
    result = asyncio.run(run(url, args.jobs, args.concurrency, args.timeout_s))
    result |= {
        "commit": _commit(),
        "when_utc": time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
        "redis": server_version(url),
        "python": platform.python_version(),
    }
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"batch-{time.strftime('%Y%m%d-%H%M%S')}.json"
    path.write_text(json.dumps(result, indent=2))
    rows = [
        ("jobs in the batch", f"{result['jobs']:,}"),
        ("steps built and validated", f"{result['build_s']:.2f} s"),
        ("batch added (one MULTI/EXEC)", f"{result['add_s']:.2f} s"),
        ("callback's pending set in Redis", f"{result['pending_set_bytes'] / 1024:.0f} KiB"),
        ("progress read, all pending", f"{result['status_read_all_pending_ms']:.1f} ms"),
        ("drained, callback done", f"{result['drain_and_callback_s']:.1f} s"),
        ("progress reads while running (max)", f"{result['status_read_max_ms']:.1f} ms"),
        ("callback runs", str(result["callback_runs"])),
        ("callback saw", json.dumps(result["callback_saw"])),
    ]
    print("| measure | value |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")
    print(f"\n{'OK' if result['ok'] else 'FAILED'}: {path.name}")
    if not result["ok"]:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
