"""Capacity of ``POST /api/orders`` (an order and its four enqueues) in the three layouts.

    python bench/orders_load.py [--layouts no-workers,in-process,worker-process]
                                [--rates 10,25,50,75,100,125,150,200] [--step 10] [--record]

For each layout (see ``orders_server.py``) a fresh ``ils`` on the embedded defaults, then a
sweep of fixed rates, ``--step`` seconds each, from ``pacer.py`` (open loop, latency counted
from when each request was due). Each step reports p50/p99, the server's CPU per order (CPU
seconds of every Python process of the layout over the step / answered orders), the
generator's own CPU, and the web process's loop lag, worker pause state and queue backlog from
``/metrics``. A layout's sweep stops at the first step whose p99 passes ``--stop-ms``. The
knees: the highest rate with p99 under 50 ms and under 500 ms (every lower rate under it too).
Then one step at 1.2 x the 500 ms knee shows what happens just past capacity. The bench pins
itself to the last core. Results: ``bench/results/orders_load.json``; with ``--record`` also
``bench/orders_recorded.json`` (committed: what ``make bench-check`` compares against).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from typing import Any

from orders_server import LAYOUTS, REPO, Layout
from pacer import build_request, pace

RESULTS = REPO / "bench" / "results" / "orders_load.json"
RECORDED = REPO / "bench" / "orders_recorded.json"
BOUNDS_MS = (50, 500)

ORDER = {
    "customer_name": "Load Test",
    "lines": [
        {"kind": "lens", "description": "SV 1.6 AR", "quantity": 2, "unit_price": "33.33"},
        {"kind": "frame", "description": "Acetate frame", "unit_price": "89.90"},
    ],
    "rx": {"right": {"sphere": "-2.25", "cylinder": "-0.50", "axis": 180},
           "left": {"sphere": "-2.00"}, "pd_binocular": "63.5"},
    "tax_rate_percent": "20",
}  # fmt: skip


def pin_to_one_core() -> int | None:
    """Keep the generator on the last core (the servers were started on all of them)."""
    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        return None
    core = (os.cpu_count() or 1) - 1
    os.sched_setaffinity(0, {core})
    return core


def run_loop(coro: Any) -> Any:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def measure(layout: Layout, rate: float, step_s: float) -> dict[str, Any]:
    """One step at ``rate``: latency, the server's CPU per order, lag and backlog after it."""
    request = build_request(
        "127.0.0.1", layout.port, "POST", "/api/orders", ORDER,
        {"Authorization": f"Bearer {layout.token}"},
    )  # fmt: skip
    cpu0, t0 = layout.cpu_s(), time.perf_counter()
    step = run_loop(pace("127.0.0.1", layout.port, request, rate, step_s))
    cpu1, wall = layout.cpu_s(), time.perf_counter() - t0
    server = cpu1["server"] - cpu0["server"]
    step |= {
        "server_cpu_s": round(server, 2),
        "server_cores": round(server / wall, 2),
        "store_cpu_s": round(cpu1["store"] - cpu0["store"], 2),
        "server_cpu_ms_per_order": round(server * 1000 / max(1, step["answered"]), 2),
        "ok": step["answered"] == step["requests"] and set(step["status_codes"]) == {201},
    }
    return step | layout.metrics()


def knee(steps: list[dict[str, Any]], bound_ms: float) -> float | None:
    """The highest rate under ``bound_ms`` p99 with every lower rate under it too."""
    best = None
    for s in sorted(steps, key=lambda s: s["rate"]):
        if not (s["ok"] and s["p99_ms"] < bound_ms):
            break
        best = s["rate"]
    return best


def sweep(
    name: str, rates: list[float], step_s: float, port: int, stop_ms: float, settle_s: float,
    beyond_knee: bool = True,
) -> dict[str, Any]:  # fmt: skip
    layout = Layout(name, port)
    layout.start()
    try:
        healthz = build_request("127.0.0.1", port, "GET", "/healthz")
        run_loop(pace("127.0.0.1", port, healthz, 50, 2))
        # Orders first: the pools start and the workers' first jobs run before timing.
        measure(layout, 25, 5)
        steps = []
        for rate in rates:
            time.sleep(settle_s)
            step = measure(layout, rate, step_s)
            steps.append(step)
            _progress(name, step)
            if not step["ok"] or step["p99_ms"] > stop_ms:
                break
        knees = {f"p99_under_{b}ms": knee(steps, b) for b in BOUNDS_MS}
        beyond = None
        k500 = knees["p99_under_500ms"]
        if k500 is not None and beyond_knee:
            time.sleep(settle_s)
            beyond = measure(layout, round(k500 * 1.2), step_s)
            _progress(name + " (knee x 1.2)", beyond)
        return {"layout": name, "steps": steps, "knees": knees, "beyond_knee": beyond}
    finally:
        layout.stop()


def _progress(name: str, s: dict[str, Any]) -> None:
    lag = s.get("ils_web_loop_lag_seconds")
    print(
        f"  {name:>16} {s['rate']:>5g}/s  p50 {s['p50_ms']:>8} ms  p99 {s['p99_ms']:>8} ms  "
        f"server {s['server_cpu_ms_per_order']:>6} ms CPU/order ({s['server_cores']} cores)  "
        f"generator {s['generator_cores']} cores  lag {'-' if lag is None else round(lag * 1e3)} ms"
        f"  paused {s.get('ils_workers_lag_paused', '-')} (pauses {s.get('lag_pauses', '-')})"
        f"  backlog {s.get('backlog', '-')}  shed {s.get('shed', 0)} (p99 of 201s "
        f"{s.get('p99_ok_ms', '-')} ms)  errors {s['errors'] or '-'}",
        file=sys.stderr,
        flush=True,
    )


def commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=REPO).returncode
    return out.stdout.strip() + ("+dirty" if dirty else "")


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: per layout and rate, p50/p99, CPU per order, and ratios to the baseline."""
    base = {s["rate"]: s for r in results if r["layout"] == "no-workers" for s in r["steps"]}
    lines = [
        "| layout | rate/s | p50 ms | p99 ms | p99 / baseline | server CPU ms/order "
        "| CPU / baseline | generator cores | lag ms | backlog | shed (503) | p99 of 201s ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        for s in [*r["steps"], *([r["beyond_knee"]] if r["beyond_knee"] else [])]:
            b = base.get(s["rate"])
            p99_ratio = f"{s['p99_ms'] / b['p99_ms']:.2f}" if b and b["p99_ms"] else "-"
            cpu = s["server_cpu_ms_per_order"]
            cpu_ratio = f"{cpu / b['server_cpu_ms_per_order']:.2f}" if b else "-"
            lag = s.get("ils_web_loop_lag_seconds")
            lines.append(
                f"| {r['layout']} | {s['rate']:g} | {s['p50_ms']} | {s['p99_ms']} | {p99_ratio} "
                f"| {cpu} | {cpu_ratio} | {s['generator_cores']} "
                f"| {'-' if lag is None else round(lag * 1000, 1)} | {s.get('backlog', '-'):g} "
                f"| {s.get('shed', 0)} | {s.get('p99_ok_ms', '-')} |"
            )
    lines += ["", "| layout | knee p99 < 50 ms | knee p99 < 500 ms | p99 at knee x 1.2 |",
              "|---|---:|---:|---:|"]  # fmt: skip
    for r in results:
        k, beyond = r["knees"], r["beyond_knee"]
        over = f"{beyond['p99_ms']} ms at {beyond['rate']}/s" if beyond else "-"
        lines.append(
            f"| {r['layout']} | {k['p99_under_50ms'] or '-'} | {k['p99_under_500ms'] or '-'} "
            f"| {over} |"
        )
    return "\n".join(lines)


def run(
    layouts: list[str], rates: list[float], step_s: float, port: int, stop_ms: float,
    settle_s: float, beyond_knee: bool = True,
) -> dict[str, Any]:  # fmt: skip
    core = pin_to_one_core()
    load = os.getloadavg()
    started = datetime.now(UTC).isoformat(timespec="seconds")
    results = [
        sweep(name, rates, step_s, port + i, stop_ms, settle_s, beyond_knee)
        for i, name in enumerate(layouts)
    ]
    return {
        "when": started,
        "commit": commit(),
        "cpus": os.cpu_count(),
        "generator_core": core,
        "load_average_start": [round(x, 2) for x in load],
        "load_average_end": [round(x, 2) for x in os.getloadavg()],
        "step_s": step_s,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--layouts", default=",".join(LAYOUTS))
    parser.add_argument("--rates", default="10,25,50,75,100,125,150,200")
    parser.add_argument("--step", type=float, default=10, help="seconds per rate")
    parser.add_argument("--settle", type=float, default=2, help="seconds between steps")
    parser.add_argument("--stop-ms", type=float, default=3000, help="stop a sweep past this p99")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--record", action="store_true", help=f"also write {RECORDED.name}")
    args = parser.parse_args()
    layouts = [x.strip() for x in args.layouts.split(",") if x.strip()]
    for name in layouts:
        if name not in LAYOUTS:
            parser.error(f"--layouts: unknown layout {name!r}; one of {', '.join(LAYOUTS)}")
    rates = sorted(float(x) for x in args.rates.split(","))
    out = run(layouts, rates, args.step, args.port, args.stop_ms, args.settle)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(out, indent=2))
    if args.record:
        RECORDED.write_text(json.dumps(out, indent=2) + "\n")
    print(f"commit {out['commit']}, {out['cpus']} CPUs, load average at start "
          f"{out['load_average_start']}, at end {out['load_average_end']}\n")  # fmt: skip
    print(table(out["results"]))


if __name__ == "__main__":
    main()
