"""Worker start-up: time from launch to ready, and peak memory, of worker processes side by side —
a bare python-bullmq Worker on one queue (the baseline), the same with pydantic and
pydantic-settings imported first (the floor of any worker whose settings are a pydantic-settings
object), ``ils worker --queues notification``, and ``ils worker`` (every queue).

"Ready" is the same for all: the process has connected to Redis and its BullMQ worker(s)
run, and it says so on one line (the bare script prints ``ready`` once its worker's backend is
ready; ``ils worker`` logs ``ready: worker ...`` once its runtime has started). Peak memory is the
process's own high-water mark of resident memory (``VmHWM`` in ``/proc/<pid>/status``), read
after it has idled ready for a moment; CPU to ready, its own CPU time when it said so. Rounds run
the four one after the other; medians and the ratios to the baseline of the same run are printed
(Markdown, for bench/README.md).

With ``--first-job`` (issue 21) it measures instead, for the bare worker, ``ils worker --queues Q``
for every queue and ``ils worker`` (all queues), the time from launch to the **first job taken**:
one job is enqueued on the process's queue (the bare and all-queues workers: ``notification``)
before the launch, under a key prefix of its own, and "taken" is the ``active`` event BullMQ
writes to that queue's event stream when a worker moves the job to active (read with a blocking
``XREAD`` started before the launch). The job's name is no registered type: what the worker does
with it after taking it (it fails as of an unknown type) is not measured. CPU at that moment and
the launch-to-ready time are printed beside it.

    .venv/bin/python bench/worker_start.py [--rounds 7] [--redis-url redis://127.0.0.1:6379/9]
    .venv/bin/python bench/worker_start.py --first-job [--rounds 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis
import redis.asyncio as aredis
from bullmq import Queue

REPO = Path(__file__).resolve().parent.parent

BARE_WORKER = """
import asyncio, sys
from bullmq import Worker

async def process(job, token):
    return None

async def main():
    worker = Worker("notification", process, {"connection": sys.argv[1], "prefix": sys.argv[2]})
    await worker.backend.waitUntilReady()
    print("ready", flush=True)
    await asyncio.Event().wait()

asyncio.run(main())
"""
# The bare worker after the imports no worker of ours can do without: its settings are a
# pydantic-settings object (importing pydantic_settings builds pydantic's BaseModel machinery).
FLOOR_WORKER = "import pydantic_settings\n" + BARE_WORKER


QUEUES = (
    "email",
    "pdf",
    "notification",
    "ai",
    "oma",
    "scheduled",
)  # ils.queue.settings' QUEUE_NAMES
PROBE_NAME = "bench-start-probe"  # a job name no handler has: only its being taken is measured


@dataclass
class Run:
    ready_s: float
    peak_rss_mib: float
    cpu_s: float  # the process's CPU time (user + system) until ready (or until the job is taken)
    taken_s: float = 0.0  # launch to the first job's ``active`` event (--first-job)


async def enqueue_probe(redis_url: str, prefix: str, queue: str) -> str:
    """One job on ``queue`` under ``prefix``; the id of the queue's last event so far."""
    producer = Queue(queue, {"connection": redis_url, "prefix": prefix})
    try:
        await producer.add(PROBE_NAME, {}, {"removeOnComplete": True, "removeOnFail": True})
    finally:
        await producer.close()
    client = aredis.Redis.from_url(redis_url)
    try:
        last = await client.xrevrange(f"{prefix}:{queue}:events", count=1)
    finally:
        await client.aclose()
    return last[0][0].decode() if last else "0"


async def first_active(redis_url: str, stream: str, after: str) -> float:
    """Wait for the first ``active`` event of ``stream`` after ``after``; when it was read."""
    client = aredis.Redis.from_url(redis_url)
    try:
        while True:
            for _name, entries in await client.xread({stream: after}, block=1_000) or []:
                for entry_id, fields in entries:
                    after = entry_id.decode()
                    if fields.get(b"event") == b"active":
                        return time.perf_counter()
    finally:
        await client.aclose()


def cpu_s(pid: int) -> float:
    """CPU time the process has used so far: less disturbed than wall time by other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status (Linux only)")


async def measure(
    args: list[str],
    env: dict[str, str],
    marker: str,
    idle_s: float,
    taken: tuple[str, str, str] | None = None,  # (redis URL, event stream, last event id)
) -> Run:
    watch = None
    if taken is not None:
        watch = asyncio.create_task(first_active(*taken))
        await asyncio.sleep(0.05)  # the XREAD is sent before the launch
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        *args, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    assert proc.stdout is not None
    seen: list[str] = []
    try:
        while True:
            raw = await asyncio.wait_for(proc.stdout.readline(), 60)
            if not raw:
                raise RuntimeError(f"{args} ended before ready:\n" + "".join(seen))
            line = raw.decode(errors="replace")
            seen.append(line)
            if marker in line:
                ready = time.perf_counter() - started
                cpu = cpu_s(proc.pid)
                break
        taken_s = 0.0
        if watch is not None:
            taken_s = await asyncio.wait_for(watch, 60) - started
            cpu = cpu_s(proc.pid)  # now: at (or just after) the job was taken
        await asyncio.sleep(idle_s)  # let it settle: the peak of an idle, ready worker
        peak = peak_rss_mib(proc.pid)
    finally:
        if watch is not None and not watch.done():
            watch.cancel()
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
    return Run(ready, peak, cpu, taken_s)


def compile_sources() -> None:
    """Byte-compile the ``ils`` package first, as installing it does (the libraries in the venv
    are compiled): otherwise a process started with ``PYTHONDONTWRITEBYTECODE`` would compile
    every module of ours from source at each start, and only ours."""
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", str(REPO / "src" / "ils")],
        env=os.environ | {"PYTHONDONTWRITEBYTECODE": ""},
        check=True,
    )


def migrated_var_dir(base: Path, env: dict[str, str]) -> Path:
    var = base / "var"
    subprocess.run(
        [sys.executable, "-m", "ils", "db", "upgrade"],
        env=env | {"ILS_VAR_DIR": str(var)},
        check=True,
        capture_output=True,
    )
    return var


# A case: its arguments and environment for a key prefix, the line that says ready, and the
# queue its first job is enqueued on (--first-job).
Case = tuple[Callable[[str], tuple[list[str], dict[str, str]]], str, str]


def cases(redis_url: str, var: Path, base_env: dict[str, str], first_job: bool) -> dict[str, Case]:
    def bare(script: str) -> Callable[[str], tuple[list[str], dict[str, str]]]:
        return lambda prefix: ([sys.executable, "-c", script, redis_url, prefix], base_env)

    def ils(*queues: str) -> Callable[[str], tuple[list[str], dict[str, str]]]:
        args = [sys.executable, "-m", "ils", "worker"]
        args += ["--queues", ",".join(queues)] if queues else []
        return lambda prefix: (args, base_env | {
            "REDIS_URL": redis_url, "ILS_REDIS_PREFIX": prefix, "ILS_VAR_DIR": str(var),
        })  # fmt: skip

    found: dict[str, Case] = {"bare bullmq Worker (notification)": (bare(BARE_WORKER), "ready",
                                                                    "notification")}  # fmt: skip
    if first_job:
        for queue in QUEUES:
            found[f"ils worker --queues {queue}"] = (ils(queue), "ready: worker", queue)
    else:
        found["bare Worker + pydantic, pydantic-settings (the floor)"] = (
            bare(FLOOR_WORKER),
            "ready",
            "notification",
        )
        found["ils worker --queues notification"] = (ils("notification"), "ready: worker",
                                                     "notification")  # fmt: skip
    found["ils worker (all queues)"] = (ils(), "ready: worker", "notification")
    return found


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--idle", type=float, default=1.0, help="seconds ready before reading")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    parser.add_argument("--first-job", action="store_true", help="time to the first job taken")
    opts = parser.parse_args()
    prefix = f"bench-start-{os.getpid()}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    compile_sources()
    with tempfile.TemporaryDirectory() as tmp:
        var = migrated_var_dir(Path(tmp), base_env)
        todo = cases(opts.redis_url, var, base_env, opts.first_job)
        runs: dict[str, list[Run]] = {name: [] for name in todo}
        count = 0
        for _ in range(opts.rounds):
            for name, (command, marker, queue) in todo.items():
                count += 1
                own = f"{prefix}-{count}"  # a prefix per launch: one job waits, for it alone
                args, env = command(own)
                taken = None
                if opts.first_job:
                    last = await enqueue_probe(opts.redis_url, own, queue)
                    taken = (opts.redis_url, f"{own}:{queue}:events", last)
                try:
                    runs[name].append(await measure(args, env, marker, opts.idle, taken))
                except TimeoutError as exc:
                    raise RuntimeError(f"{name} (prefix {own}): no job taken in 60 s") from exc
    client = redis.Redis.from_url(opts.redis_url)
    for key in client.scan_iter(match=f"{prefix}-*"):
        client.delete(key)
    report(runs, opts.rounds, opts.first_job)


def report(runs: dict[str, list[Run]], rounds: int, first_job: bool = False) -> None:
    names = list(runs)

    def median(name: str, what: str) -> float:
        return statistics.median(getattr(r, what) for r in runs[name])

    base = {w: median(names[0], w) for w in ("ready_s", "cpu_s", "peak_rss_mib", "taken_s")}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    print(f"commit {commit}, {rounds} rounds, medians, load average {os.getloadavg()[0]:.1f}\n")
    if first_job:
        print("| process | launch to first job taken | vs bare | CPU then | vs bare "
              "| launch to ready | vs bare | max taken |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for name in names:
            taken, cpu, ready = (median(name, w) for w in ("taken_s", "cpu_s", "ready_s"))
            worst = max(r.taken_s for r in runs[name])
            print(
                f"| {name} | {taken * 1000:.0f} ms | {taken / base['taken_s']:.2f} | "
                f"{cpu * 1000:.0f} ms | {cpu / base['cpu_s']:.2f} | "
                f"{ready * 1000:.0f} ms | {ready / base['ready_s']:.2f} | {worst * 1000:.0f} ms |"
            )
        return
    print("| process | launch to ready | vs bare | CPU to ready | vs bare | peak RSS | vs bare |")
    print("|---|---|---|---|---|---|---|")
    for name in names:
        ready, cpu, rss = (median(name, w) for w in ("ready_s", "cpu_s", "peak_rss_mib"))
        print(
            f"| {name} | {ready * 1000:.0f} ms | {ready / base['ready_s']:.2f} | "
            f"{cpu * 1000:.0f} ms | {cpu / base['cpu_s']:.2f} | "
            f"{rss:.0f} MiB | {rss / base['peak_rss_mib']:.2f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
