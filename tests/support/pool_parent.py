"""Run as a script by the pool tests: starts a one-process pool, prints the pool process's pid,
then waits to be killed."""

from __future__ import annotations

import asyncio
import sys

from ils.queue.pool import ProcessPool
from tests.support.pool_probes import pid


async def main() -> None:
    pool = ProcessPool(1, "test", nice=0)
    print(await pool.run(pid), flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
