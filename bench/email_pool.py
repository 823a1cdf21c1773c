"""Emails per second through our ``smtp`` transport at the email queue's concurrency, with a pool
of one connection against a pool of several, in the same run, to a local SMTP server that takes
a fixed time over each message (as a remote relay does: 20 ms by default).

Run: ``make bench-email-pool``, or ``.venv/bin/python bench/email_pool.py [--emails N]
[--concurrency C] [--delay-ms D] [--pools 1,2,5] [--repeats R]``. The server is aiosmtpd on
127.0.0.1; its handler waits ``D`` ms (an ``asyncio.sleep``, so the messages of several
connections wait at once) and accepts. Results also go to ``bench/results/email_pool.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from email_transport import drain, free_port
from ils.jobs.email.transports import SmtpTransport
from ils.settings import load_mail_settings
from reporting import git_commit, write_json

RESULTS = Path(__file__).resolve().parent / "results" / "email_pool.json"


class SlowSink:
    """Accepts every message after ``delay_s``, keeping nothing."""

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        await asyncio.sleep(self.delay_s)
        self.count += 1
        return "250 OK"


async def trial(port: int, pool: int, emails: int, concurrency: int) -> tuple[float, int]:
    """Emails/s with a pool of ``pool`` connections, and how many connections it opened."""
    env = {"ILS_MAIL_TRANSPORT": "smtp", "ILS_SMTP_HOST": "127.0.0.1", "ILS_SMTP_PORT": str(port),
           "ILS_SMTP_TLS": "none", "ILS_SMTP_CONNECTIONS": str(pool)}  # fmt: skip
    transport = SmtpTransport(load_mail_settings(env))
    try:
        seconds = await drain(lambda m: transport.send(m, "bench"), emails, concurrency)
    finally:
        await transport.close()
    return emails / seconds, transport.connections_opened


async def measure(args: argparse.Namespace) -> dict[str, Any]:
    sink = SlowSink(args.delay_ms / 1000)
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    samples: dict[int, list[float]] = {pool: [] for pool in args.pools}
    opened: dict[int, int] = {}
    try:
        await trial(port, max(args.pools), 20, args.concurrency)  # warm-up
        for r in range(args.repeats):
            order = args.pools if r % 2 == 0 else args.pools[::-1]
            for pool in order:
                rate, opened[pool] = await trial(port, pool, args.emails, args.concurrency)
                samples[pool].append(rate)
                print(f"repeat {r + 1} pool {pool}: {rate:.1f}/s", file=sys.stderr)
    finally:
        controller.stop()
    return {"samples": samples, "opened": opened,
            "median": {pool: statistics.median(v) for pool, v in samples.items()}}  # fmt: skip


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--emails", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=5)
    parser.add_argument("--delay-ms", type=float, default=20.0)
    parser.add_argument("--pools", default="1,2,5", help="pool sizes, the first the baseline")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    args.pools = [int(p) for p in args.pools.split(",")]
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    result = asyncio.run(measure(args))
    commit, base = git_commit(), args.pools[0]
    print(f"commit {commit}, {datetime.now(UTC).isoformat(timespec='seconds')}; {args.emails} "
          f"emails, concurrency {args.concurrency}, {args.delay_ms:g} ms a message at the server, "
          f"{args.repeats} repeats (median)")  # fmt: skip
    print(f"| connections | emails/s | / {base} connection(s) | connections opened |")
    print("|---:|---:|---:|---:|")
    medians = result["median"]
    for pool in args.pools:
        print(f"| {pool} | {medians[pool]:.1f} | {medians[pool] / medians[base]:.2f} "
              f"| {result['opened'][pool]} |")  # fmt: skip
    write_json({"commit": commit, "args": vars(args), **result}, RESULTS)
    return 0


if __name__ == "__main__":
    sys.exit(main())
