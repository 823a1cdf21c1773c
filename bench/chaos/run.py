"""``make chaos``: every scenario (or those named) on a deployment of its own, one after the other;
the table on stdout, progress on stderr, everything in bench/results/chaos.json. Exits 1 when a
scenario lost or duplicated a side effect, left a job not completed, or recovered late.

    python -m bench.chaos.run [--quick] [--only NAME ...] [--jobs N] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

from bench.chaos.common import Result
from bench.chaos.config import QUICK, Config
from bench.chaos.report import table, write_json
from bench.chaos.scenarios import embedded_kill, kill_workers, poison, redis_outage, redis_restarts
from bench.chaos.stack import REPO

SCENARIOS: dict[str, Callable[[Config], Awaitable[Result]]] = {
    "kill": kill_workers.run,
    "restarts": redis_restarts.run,
    "outage": redis_outage.run,
    "embedded": embedded_kill.run,
    "poison": poison.run,
}


def ok(result: Result) -> bool:
    return (
        result.lost == 0
        and result.duplicated == 0
        and not result.failed
        and result.figures.get("within_bound", True) is not False
    )


async def run_all(cfg: Config, names: Sequence[str]) -> list[Result]:
    results = []
    for name in names:
        print(f"chaos: {name} ...", file=sys.stderr, flush=True)
        t0 = time.monotonic()
        result = await SCENARIOS[name](cfg)
        result.wall_s = time.monotonic() - t0
        verdict = "ok" if ok(result) else "FAILED"
        print(f"chaos: {name} {verdict} in {result.wall_s:.0f}s", file=sys.stderr, flush=True)
        results.append(result)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes (seconds)")
    parser.add_argument("--only", nargs="+", choices=list(SCENARIOS), default=list(SCENARIOS))
    parser.add_argument("--jobs", type=int, help="jobs of the kill scenario")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "chaos.json")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    cfg = QUICK if args.quick else Config()
    if args.jobs:
        cfg = dataclasses.replace(cfg, jobs=args.jobs)
    results = asyncio.run(run_all(cfg, args.only))
    print(table(results))
    write_json(args.out, results, REPO, dataclasses.asdict(cfg))
    return 0 if all(ok(r) for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
