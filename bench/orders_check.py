"""``make bench-check``: a 2-minute run of the orders bench compared with the recorded figures.

    python bench/orders_check.py [--rates 25,50,100] [--step 8]

Runs the three layouts at a few rates (the recorded sweep's rates that are measured here) and
compares, per layout, the knees (p99 < 50 ms and < 500 ms, judged on these rates only, the
recorded ones too) and the server's CPU per order with ``bench/orders_recorded.json``. Absolute
latency moves with whatever else the machine runs, so each layout is also judged against the
``--no-workers`` baseline of the same run: its p99 / baseline p99 and CPU / baseline CPU, next
to the same ratios in the recording. Exits 1 when a layout's 500 ms knee (its capacity) fell
below the recorded one or its CPU per order (at 50/s and more) grew by more than
``--cpu-tolerance`` against the baseline; the 50 ms knee and the p99s are information.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from orders_load import RECORDED, knee, run

BOUNDS = ("p99_under_50ms", "p99_under_500ms")
# CPU per order is compared from this rate up: below it the rate-limited queues' steady work
# (a few jobs a second whatever the order rate) and the start of pool processes weigh on few
# orders, and move the ratio more than any change to the per-order path does.
MIN_CPU_RATE = 50


def _by_rate(result: dict[str, Any], rates: list[float]) -> dict[float, dict[str, Any]]:
    return {s["rate"]: s for s in result["steps"] if s["rate"] in rates}


def _ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 2) if a is not None and b else None


def _cpu_vs_base(layout: dict[float, dict[str, Any]], base: dict[float, dict[str, Any]]) -> float:
    """Mean over the common rates (from ``MIN_CPU_RATE``) of the layout's CPU per order / the
    baseline's."""
    common = [
        r for r in layout if r >= MIN_CPU_RATE and r in base and base[r]["server_cpu_ms_per_order"]
    ]
    if not common:
        return float("nan")
    return sum(
        layout[r]["server_cpu_ms_per_order"] / base[r]["server_cpu_ms_per_order"] for r in common
    ) / len(common)


def compare(now: dict[str, Any], then: dict[str, Any], rates: list[float], tol: float) -> bool:
    """Print the comparison; True when nothing regressed."""
    ok = True
    got = {r["layout"]: _by_rate(r, rates) for r in now["results"]}
    rec = {r["layout"]: _by_rate(r, rates) for r in then["results"]}
    print(f"now: commit {now['commit']}, load average {now['load_average_start']}")
    print(f"recorded: commit {then['commit']} on {then['when']}, "
          f"load average {then['load_average_start']}\n")  # fmt: skip
    print("| layout | measure | recorded | now | now / recorded |")
    print("|---|---|---:|---:|---:|")
    for layout, steps in got.items():
        if layout not in rec:
            print(f"| {layout} | (not recorded) | | | |")
            continue
        for bound in BOUNDS:
            limit = float(bound.split("_")[2].removesuffix("ms"))
            k_now = knee(list(steps.values()), limit)
            k_then = knee(list(rec[layout].values()), limit)
            ratio = _ratio(k_now, k_then)
            print(f"| {layout} | knee {bound} (/s) | {k_then} | {k_now} | {ratio} |")
            # The capacity knee decides; the 50 ms one moves with any other load on the machine.
            if bound == "p99_under_500ms" and k_then is not None and (k_now or 0) < k_then:
                ok = False
        for rate in rates:
            if rate in steps and rate in rec[layout]:
                a, b = rec[layout][rate]["p99_ms"], steps[rate]["p99_ms"]
                print(f"| {layout} | p99 at {rate:g}/s (ms) | {a} | {b} | {_ratio(b, a)} |")
        if layout != "no-workers" and "no-workers" in got and "no-workers" in rec:
            c_then = _cpu_vs_base(rec[layout], rec["no-workers"])
            c_now = _cpu_vs_base(steps, got["no-workers"])
            print(f"| {layout} | CPU per order / baseline | {c_then:.2f} | {c_now:.2f} "
                  f"| {_ratio(c_now, c_then)} |")  # fmt: skip
            if c_now > c_then * (1 + tol):
                ok = False
    print("\n" + ("no regression against the recorded figures" if ok else "REGRESSION (above)"))
    return ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rates", default="25,50,100")
    parser.add_argument("--step", type=float, default=8)
    parser.add_argument("--port", type=int, default=8795)
    parser.add_argument("--cpu-tolerance", type=float, default=0.25)
    args = parser.parse_args()
    then = json.loads(RECORDED.read_text())
    rates = sorted(float(x) for x in args.rates.split(","))
    layouts = [r["layout"] for r in then["results"]]
    now = run(layouts, rates, args.step, args.port, stop_ms=3000, settle_s=1, beyond_knee=False)
    sys.exit(0 if compare(now, then, rates, args.cpu_tolerance) else 1)


if __name__ == "__main__":
    main()
