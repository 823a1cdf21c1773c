"""OMA/DCS files parsed and validated per second in one process: a 2048-point and a 400-point
job file (both sides traced), next to a bare tokenizer of the same bytes measured in the same run.

The bare tokenizer only decodes the bytes and splits them into lines, labels and fields: the
least any reader of the format does. ``parse`` and ``parse + validate`` are reported as files/s
and as a ratio of it, so the figure means the same on a slower or busier machine.

Run: ``.venv/bin/python bench/oma_parse.py [--seconds S] [--repeats R]`` (or ``make bench-oma``).
Results: a markdown table on stdout and ``bench/results/oma_parse.json``.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # for tests.oma.samples

from tests.oma.samples import circular_job, rectangular_job

from ils.oma import parse
from ils.oma.validate import validate

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "oma_parse.json"


def tokenize(data: bytes) -> int:
    """The baseline: lines split into label and fields, nothing checked or built."""
    fields = 0
    for line in data.decode("ascii").split("\r\n"):
        _, _, rest = line.partition("=")
        fields += len(rest.split(";"))
    return fields


def parse_only(data: bytes) -> int:
    return len(parse(data).records)


def parse_and_validate(data: bytes) -> int:
    return len(validate(parse(data)))


STEPS: dict[str, Callable[[bytes], int]] = {
    "tokenize (baseline)": tokenize,
    "parse": parse_only,
    "parse + validate": parse_and_validate,
}


def rate(step: Callable[[bytes], int], data: bytes, seconds: float) -> float:
    """Files/s of ``step`` over about ``seconds`` of back-to-back calls."""
    step(data)  # warm-up
    calls, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(10):
            step(data)
        calls += 10
        now = time.perf_counter()
        if now >= deadline:
            return calls / (now - start)


def commit() -> str:
    out = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    )
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD", "--", "src"], cwd=REPO).returncode
    return out.stdout.strip() + ("+dirty" if dirty else "")


def run(seconds: float, repeats: int) -> dict[str, Any]:
    files = {
        "2048 points (rectangle, R+L)": rectangular_job(2048, 52.0, 34.0),
        "400 points (circle, R+L)": circular_job(400, 25.0),
    }
    for name, data in files.items():
        assert not [i for i in validate(parse(data)) if i.severity == "error"], name
    results: dict[str, Any] = {"commit": commit(), "seconds": seconds, "repeats": repeats}
    results["files"] = []
    for name, data in files.items():
        samples: dict[str, list[float]] = {step: [] for step in STEPS}
        order = list(STEPS)
        for repeat in range(repeats):
            # Alternate the order so that drift on the machine hits every step alike.
            for step in order if repeat % 2 == 0 else reversed(order):
                samples[step].append(rate(STEPS[step], data, seconds))
        base = statistics.median(samples["tokenize (baseline)"])
        results["files"].append(
            {
                "file": name,
                "bytes": len(data),
                "steps": [
                    {
                        "step": step,
                        "files_per_s": round(statistics.median(values), 1),
                        "ratio_to_baseline": round(statistics.median(values) / base, 3),
                        "samples": [round(v, 1) for v in values],
                    }
                    for step, values in samples.items()
                ],
            }
        )
    return results


def table(results: dict[str, Any]) -> str:
    lines = [
        f"commit {results['commit']}, median of {results['repeats']} runs of "
        f"{results['seconds']} s per step",
        "",
        "| file | bytes | step | files/s | / baseline |",
        "|---|---:|---|---:|---:|",
    ]
    for entry in results["files"]:
        for step in entry["steps"]:
            lines.append(
                f"| {entry['file']} | {entry['bytes']} | {step['step']} | "
                f"{step['files_per_s']:,.0f} | {step['ratio_to_baseline']:.3f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="per step and repeat")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    results = run(args.seconds, args.repeats)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
