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

    .venv/bin/python bench/worker_start.py [--rounds 7] [--redis-url redis://127.0.0.1:6379/9]
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
from dataclasses import dataclass
from pathlib import Path

import redis

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


@dataclass
class Run:
    ready_s: float
    peak_rss_mib: float
    cpu_s: float  # the process's CPU time (user + system) until ready


def cpu_s(pid: int) -> float:
    """CPU time the process has used so far: less disturbed than wall time by other load."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc status (Linux only)")


async def measure(args: list[str], env: dict[str, str], marker: str, idle_s: float) -> Run:
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
        await asyncio.sleep(idle_s)  # let it settle: the peak of an idle, ready worker
        peak = peak_rss_mib(proc.pid)
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()
    return Run(ready, peak, cpu)


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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--idle", type=float, default=1.0, help="seconds ready before reading")
    parser.add_argument(
        "--redis-url", default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/9")
    )
    opts = parser.parse_args()
    prefix = f"bench-start-{os.getpid()}"
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    compile_sources()
    with tempfile.TemporaryDirectory() as tmp:
        var = migrated_var_dir(Path(tmp), base_env)
        ils_env = base_env | {
            "REDIS_URL": opts.redis_url, "ILS_REDIS_PREFIX": prefix, "ILS_VAR_DIR": str(var),
        }  # fmt: skip
        ils = [sys.executable, "-m", "ils", "worker"]
        cases = {
            "bare bullmq Worker (notification)": (
                [sys.executable, "-c", BARE_WORKER, opts.redis_url, prefix],
                base_env,
                "ready",
            ),
            "bare Worker + pydantic, pydantic-settings (the floor)": (
                [sys.executable, "-c", FLOOR_WORKER, opts.redis_url, prefix],
                base_env,
                "ready",
            ),
            "ils worker --queues notification": (
                [*ils, "--queues", "notification"],
                ils_env,
                "ready: worker",
            ),
            "ils worker (all queues)": (ils, ils_env, "ready: worker"),
        }
        runs: dict[str, list[Run]] = {name: [] for name in cases}
        for _ in range(opts.rounds):
            for name, (args, env, marker) in cases.items():
                runs[name].append(await measure(args, env, marker, opts.idle))
    client = redis.Redis.from_url(opts.redis_url)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)
    report(runs, opts.rounds)


def report(runs: dict[str, list[Run]], rounds: int) -> None:
    names = list(runs)

    def median(name: str, what: str) -> float:
        return statistics.median(getattr(r, what) for r in runs[name])

    base = {what: median(names[0], what) for what in ("ready_s", "cpu_s", "peak_rss_mib")}
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()
    print(f"commit {commit}, {rounds} rounds, medians, load average {os.getloadavg()[0]:.1f}\n")
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
