"""What one ``POST /api/orders`` runs in the web process, counted rather than timed: Python calls
per order, by function, under cProfile (a coroutine's every resumption counts as a call), so two
commits compare on a loaded machine too.

    python bench/orders_calls.py [--orders 300] [--out FILE] [--against OTHER.json] [--top 40]

One ``--no-workers`` server (``orders_server.Layout``) takes ``--orders`` orders in a closed loop
(one connection, each order sent when the last was answered, so no queue forms whatever else the
machine runs): first unprofiled, for its CPU per order (information: it moves with the machine's
load), then the same number with the profiler on in the server's event-loop thread. Each function's
calls per order go to ``--out`` (default ``bench/results/orders_calls.json``). ``--against`` a file
written the same way for another commit prints the totals and the functions whose calls per order
differ most. To compare with an older commit, copy this file into a worktree of it, run it there
with that tree's environment, and pass its file here.
"""

from __future__ import annotations

import argparse
import cProfile
import http.client
import json
import os
import pstats
import re
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import psutil

from orders_load import ORDER, commit
from orders_server import REPO, Layout

RESULTS = REPO / "bench" / "results" / "orders_calls.json"
SERVE_FLAG = "--profiled-serve"
ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def profiled_serve(out: str, args: list[str]) -> None:
    """``ils ARGS`` with cProfile switched on by SIGUSR1 and off (stats written to ``out``) by
    SIGUSR2, so only the measured orders are counted, not the start-up."""
    profiler = cProfile.Profile()

    def start(*_: Any) -> None:
        profiler.enable()

    def stop(*_: Any) -> None:
        profiler.disable()
        profiler.dump_stats(out)

    signal.signal(signal.SIGUSR1, start)
    signal.signal(signal.SIGUSR2, stop)
    sys.argv = ["ils", *args]
    runpy.run_module("ils", run_name="__main__")


class ProfiledLayout(Layout):
    """The ``no-workers`` layout with its server started through :func:`profiled_serve`."""

    def __init__(self, port: int, stats: Path) -> None:
        super().__init__("no-workers", port)
        self.stats = stats

    def _spawn(
        self, *args: str, out: int | None = None, level: str = "WARNING"
    ) -> subprocess.Popen[str]:
        serve = [sys.executable, __file__, SERVE_FLAG, str(self.stats), *args]
        proc = subprocess.Popen(
            [*serve, "--log-level", level],
            env=self.env, stdout=out if out is not None else subprocess.DEVNULL,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.procs.append(proc)
        return proc


def _wait_listening(port: int, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def _orders(conn: http.client.HTTPConnection, token: str, n: int) -> None:
    body = json.dumps(ORDER)
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    for _ in range(n):
        conn.request("POST", "/api/orders", body, headers)
        response = conn.getresponse()
        response.read()
        if response.status != 201:
            sys.exit(f"POST /api/orders answered {response.status}")


def _cpu_s(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def _calls_per_order(stats: Path, orders: int) -> dict[str, float]:
    out: dict[str, float] = {}
    raw: dict[tuple[str, int, str], tuple[Any, ...]] = pstats.Stats(str(stats)).stats
    for (filename, _line, name), (_cc, calls, *_rest) in raw.items():
        # Per function, wherever its package is installed; C functions keep cProfile's name,
        # without the object's address (which differs from run to run).
        where = filename.split("site-packages/")[-1].split("/src/")[-1]
        key = ADDRESS.sub("", f"{where}:{name}")
        out[key] = out.get(key, 0.0) + calls / orders
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def measure(orders: int, port: int) -> dict[str, Any]:
    stats = RESULTS.with_suffix(".prof")
    stats.parent.mkdir(parents=True, exist_ok=True)
    stats.unlink(missing_ok=True)
    layout = ProfiledLayout(port, stats)
    layout.start()
    try:
        _wait_listening(port)
        server = psutil.Process(layout.procs[0].pid)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        _orders(conn, layout.token, 100)  # warm-up: connections, caches, compiled statements
        cpu0 = _cpu_s(server)
        _orders(conn, layout.token, orders)
        cpu_ms = (_cpu_s(server) - cpu0) * 1000 / orders
        server.send_signal(signal.SIGUSR1)
        _orders(conn, layout.token, orders)
        server.send_signal(signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not stats.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1)  # the dump is written by the server's signal handler
        calls = _calls_per_order(stats, orders)
    finally:
        layout.stop()
    return {
        "commit": commit(),
        "orders": orders,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "server_cpu_ms_per_order": round(cpu_ms, 2),
        "calls_per_order": round(sum(calls.values()), 1),
        "by_function": {k: round(v, 3) for k, v in calls.items()},
    }


def compare(now: dict[str, Any], then: dict[str, Any], top: int) -> None:
    a, b = then["by_function"], now["by_function"]
    print(f"| | {then['commit']} | {now['commit']} | ratio |\n|---|---:|---:|---:|")
    measures = (
        ("calls per order", "calls_per_order"),
        ("server CPU ms per order (unprofiled)", "server_cpu_ms_per_order"),
    )
    for label, key in measures:
        print(f"| {label} | {then[key]} | {now[key]} | {now[key] / then[key]:.3f} |")
    diffs = sorted(set(a) | set(b), key=lambda k: -abs(b.get(k, 0.0) - a.get(k, 0.0)))
    print(f"\n| function | {then['commit']} | {now['commit']} | difference |\n|---|---:|---:|---:|")
    for key in diffs[:top]:
        x, y = a.get(key, 0.0), b.get(key, 0.0)
        print(f"| `{key}` | {x:g} | {y:g} | {y - x:+.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=300)
    parser.add_argument("--port", type=int, default=18460)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--against", type=Path, help="a file this script wrote for another commit")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    result = measure(args.orders, args.port)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1) + "\n")
    calls, cpu = result["calls_per_order"], result["server_cpu_ms_per_order"]
    print(f"{result['commit']}: {calls} Python calls, {cpu} ms server CPU per order ({args.out})")
    if args.against:
        compare(result, json.loads(args.against.read_text()), args.top)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == SERVE_FLAG:
        profiled_serve(sys.argv[2], sys.argv[3:])
    else:
        main()
