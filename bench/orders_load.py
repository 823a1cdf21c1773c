"""Load on ``POST /api/orders`` (an order and its four enqueues) at a fixed rate.

    python bench/orders_load.py [--rate 100] [--duration 30] [--port 8765]

Starts ``ils serve`` on the embedded defaults (its own embedded Valkey, SQLite, workers in the
process) in a fresh directory, creates a company, a user and an API token, then drives
``GET /healthz`` (the baseline: the HTTP stack alone) and ``POST /api/orders`` at the same
fixed rate, one after the other, and reports p50/p99/max latency and errors of each, with the
ratio of orders to the baseline. The load comes from ``pacer.py``: open loop, requests evenly
spaced, latency counted from when each was due. Results go to ``bench/results/orders_load.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from datetime import UTC, datetime
from pathlib import Path

from pacer import pace

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results" / "orders_load.json"

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


async def _make_token(database_url: str) -> str:
    from ils.domain.db import Database
    from ils.domain.models.accounts import Company, CompanyKind, Role, User
    from ils.domain.passwords import hash_password
    from ils.web.auth.tokens import create_token

    db = Database(database_url)
    try:
        async with db.session() as s:
            company = Company(name="Bench Optics", slug="bench", kind=CompanyKind.practice)
            s.add(company)
            await s.flush()
            user = User(
                company_id=company.id, email="bench@bench.localhost", name="Bench",
                password_hash=hash_password("bench-password"), role=Role.dispenser,
            )  # fmt: skip
            s.add(user)
            await s.flush()
            _, token = await create_token(s, user, "bench")
            return token
    finally:
        await db.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=100, help="requests per second")
    parser.add_argument("--duration", type=int, default=30, help="seconds per measurement")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-workers", action="store_true", help="serve without workers")
    parser.add_argument("--processes", type=int, default=1, help="`ils serve --processes`")
    parser.add_argument(
        "--worker-process",
        action="store_true",
        help="serve with --no-workers and run the workers in an `ils worker` process beside it",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ils-orders-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_", "DATABASE"))}
    env |= {"ILS_VAR_DIR": str(work / "var"), "PYTHONPATH": str(REPO / "src")}
    ils = [sys.executable, "-m", "ils"]
    subprocess.run([*ils, "db", "upgrade"], env=env, check=True, capture_output=True)
    database_url = f"sqlite+aiosqlite:///{work / 'var' / 'ils.db'}"
    token = asyncio.run(_make_token(database_url))
    server = subprocess.Popen(
        [*ils, "serve", "--port", str(args.port), "--log-level", "WARNING",
         "--processes", str(args.processes),
         *(["--no-workers"] if args.no_workers or args.worker_process else [])],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    worker = None
    listening = threading.Event()

    def drain() -> None:
        # Read the server's output to the end, into a file: a pipe nobody reads fills up, and
        # then every log line the server writes blocks its event loop.
        assert server.stdout is not None
        with (work / "server.log").open("w") as log:
            for line in server.stdout:
                log.write(line)
                if "listening on" in line:
                    listening.set()

    threading.Thread(target=drain, daemon=True).start()
    try:
        if not listening.wait(timeout=60):
            sys.exit("the server did not start; see its log")
        if args.worker_process:
            # Beside the server, on the embedded server it started (found through var/redis).
            worker = subprocess.Popen(
                [*ils, "worker", "--log-level", "WARNING"], env=env,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            )  # fmt: skip
        base = f"http://127.0.0.1:{args.port}"
        asyncio.run(pace(f"{base}/healthz", args.rate, 2))  # warm-up
        baseline = asyncio.run(pace(f"{base}/healthz", args.rate, args.duration))
        orders = asyncio.run(
            pace(
                f"{base}/api/orders", args.rate, args.duration, method="POST", json_body=ORDER,
                headers={"Authorization": f"Bearer {token}"},
            )
        )  # fmt: skip
    finally:
        if worker is not None:
            worker.send_signal(signal.SIGTERM)
            worker.wait(timeout=60)
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        shutil.rmtree(work, ignore_errors=True)

    result = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "rate": args.rate,
        "duration_s": args.duration,
        "cpus": os.cpu_count(),
        "processes": args.processes,
        "workers": "none"
        if args.no_workers
        else ("process" if args.worker_process else "in-process"),
        "baseline_healthz": baseline,
        "post_orders": orders,
        "ratio_p50": round(orders["p50_ms"] / baseline["p50_ms"], 2),
        "ratio_p99": round(orders["p99_ms"] / baseline["p99_ms"], 2),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print("| measure | GET /healthz (baseline) | POST /api/orders | orders / baseline |")
    print("|---|---:|---:|---:|")
    for key in ("p50_ms", "p99_ms", "max_ms"):
        ratio = orders[key] / baseline[key]
        print(f"| {key} | {baseline[key]:.1f} | {orders[key]:.1f} | {ratio:.2f} |")
    print(f"| requests (achieved rate/s) | {baseline['requests']} ({baseline['rate_achieved']}) "
          f"| {orders['requests']} ({orders['rate_achieved']}) | |")  # fmt: skip
    print(f"| status codes | {baseline['status_codes']} | {orders['status_codes']} | |")
    print(f"errors: {orders['errors'] or 'none'}")
    print(
        f"goal: p99 under 50 ms at {args.rate}/s -> {'met' if orders['p99_ms'] < 50 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
