"""The suite's output: one markdown row per scenario (lost, duplicated, resent, failed, recovery
figures, time) and the JSON of everything, with the commit, date and machine load."""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.chaos.common import Result

HEAD = (
    "| scenario | jobs | lost | duplicated | resent (same Message-ID) | not completed "
    "| recovery | seconds | total s |\n|---|---:|---:|---:|---:|---:|---|---:|---:|"
)


def recovery(figures: dict[str, Any]) -> str:
    """The scenario's recovery figure in words."""
    if "recovery_max_s" in figures:
        return (
            f"{figures['stranded']} stranded: p50 {figures['recovery_p50_s']} s, max "
            f"{figures['recovery_max_s']} s (bound {figures['bound_s']} s)"
        )
    if "resumed_max_s" in figures:
        return f"workers resumed {figures['resumed_max_s']} s after the server was back (max)"
    if "restarted_after_s" in figures:
        return (
            f"server restarted after {figures['restarted_after_s']} s, jobs resumed after "
            f"{figures['resumed_after_s']} s"
        )
    if "delivered_after_s" in figures:
        return (
            f"Redis down {figures['outage_s']} s; all {figures['after_s_jobs']} jobs done "
            f"{figures['delivered_after_s']} s after it was back"
        )
    if "poison_failed_once" in figures:
        return f"{figures['poison_failed_once']}/{figures['poison']} poison jobs failed once"
    return ""


def table(results: Sequence[Result]) -> str:
    rows = [HEAD]
    for r in results:
        rows.append(
            f"| {r.name} | {r.jobs} | {r.lost} | {r.duplicated} | {r.resent} "
            f"| {len(r.failed)} | {recovery(r.figures)} | {r.seconds:.0f} | {r.wall_s:.0f} |"
        )
    if len(results) > 1:
        rows.append(f"\nsuite: {sum(r.wall_s for r in results):.0f} s in all")
    return "\n".join(rows)


def commit(repo: Path) -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True
    )
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src", "bench"], cwd=repo)
    return out.stdout.strip() + ("+dirty" if dirty.returncode else "")


def write_json(path: Path, results: Sequence[Result], repo: Path, settings: dict[str, Any]) -> None:
    body = {
        "commit": commit(repo),
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "load_average": os.getloadavg(),
        },
        "settings": settings,
        "scenarios": [r.as_dict() for r in results],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(body, indent=2) + "\n")
