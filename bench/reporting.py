"""Turning raw samples into results: percentiles, ratios, the markdown table and the JSON file.

Every result is reported next to raw BullMQ measured in the same run, as ``ours / raw``. The
throughput goal (ours keeps at least 85% of raw) is reported as information, never asserted.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
from pathlib import Path
from typing import Any

THROUGHPUT_GOAL = 0.85


def git_commit() -> str:
    """The short hash of the commit the bench runs at (``unknown`` outside a checkout)."""
    done = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() or "unknown"


def percentile(values: list[float] | list[int], pct: float) -> float:
    """Nearest-rank percentile (``pct`` in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return float(ordered[rank - 1])


def latency_stats(samples_ns: list[int]) -> dict[str, float]:
    """p50, p99 and mean of latencies given in nanoseconds, in microseconds."""
    return {
        "n": len(samples_ns),
        "p50_us": round(percentile(samples_ns, 50) / 1000, 1),
        "p99_us": round(percentile(samples_ns, 99) / 1000, 1),
        "mean_us": round(statistics.fmean(samples_ns) / 1000, 1),
    }


def ratio(ours: float, raw: float) -> float | None:
    return round(ours / raw, 3) if raw else None


def summarize_throughput(trials: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per number of processes: median jobs/s and worker CPU per job of each side over the
    repeats, ``ours / raw`` of those medians, and ``ours / raw`` of each repeat's pair."""
    out = []
    for processes in sorted({t["processes"] for t in trials}):
        runs = {
            side: [t for t in trials if t["processes"] == processes and t["side"] == side]
            for side in ("ours", "raw")
        }
        rate = {side: statistics.median(t["jobs_per_s"] for t in runs[side]) for side in runs}
        cpu = {
            side: statistics.median(t["worker_cpu_us_per_job"] for t in runs[side]) for side in runs
        }
        pairs = [
            ratio(o["jobs_per_s"], r["jobs_per_s"])
            for o, r in zip(runs["ours"], runs["raw"], strict=True)
        ]
        value = ratio(rate["ours"], rate["raw"])
        out.append(
            {
                "processes": processes,
                "ours_jobs_per_s": round(rate["ours"], 1),
                "raw_jobs_per_s": round(rate["raw"], 1),
                "ratio": value,
                "ratio_per_repeat": pairs,
                "meets_goal": value is not None and value >= THROUGHPUT_GOAL,
                "ours_cpu_us_per_job": round(cpu["ours"], 1),
                "raw_cpu_us_per_job": round(cpu["raw"], 1),
                "cpu_ratio": ratio(cpu["ours"], cpu["raw"]),
            }
        )
    return out


def markdown_table(results: dict[str, Any]) -> str:
    lat = results["enqueue_latency"]
    rows = [
        "| measure | ours | raw bullmq | ours / raw |",
        "|---|---:|---:|---:|",
    ]
    for key, label in (("p50_us", "p50"), ("p99_us", "p99"), ("mean_us", "mean")):
        rows.append(
            f"| enqueue latency {label} (µs) | {lat['ours'][key]:.1f} | {lat['raw'][key]:.1f} "
            f"| {lat['ratio'][key]:.3f} |"
        )
    for row in results["throughput"]["summary"]:
        procs = row["processes"]
        label = f"no-op jobs/s, {procs} worker process{'es' if procs > 1 else ''}"
        rows.append(
            f"| {label} | {row['ours_jobs_per_s']:.0f} | {row['raw_jobs_per_s']:.0f} "
            f"| {row['ratio']:.3f} |"
        )
    for row in results["throughput"]["summary"]:
        procs = row["processes"]
        label = f"worker CPU per job (µs), {procs} process{'es' if procs > 1 else ''}"
        rows.append(
            f"| {label} | {row['ours_cpu_us_per_job']:.1f} | {row['raw_cpu_us_per_job']:.1f} "
            f"| {row['cpu_ratio']:.3f} |"
        )
    return "\n".join(rows)


def write_json(results: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
