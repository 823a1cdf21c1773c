"""How long the adds may wait for Redis (:mod:`ils.queue.engine_add`, :mod:`ils.queue.add_stream`):
their client sets no timeout of its own on a write or a read (redis-py's timers cost a sixth of a
bulk add's CPU), so each add, pipeline, chunk or script load is bounded as a whole here; past the
bound it is a :class:`redis.exceptions.TimeoutError`, a connection error like a reply's timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from redis.exceptions import TimeoutError as RedisTimeoutError

from ils.queue.broker import READ_TIMEOUT_S


def pipeline_timeout(commands: int) -> float:
    """How long ``commands`` sent at once may take to be answered: a reply's timeout, and a
    millisecond more a command (a chunk of 1,000 adds: 6 s)."""
    return READ_TIMEOUT_S + commands / 1000


@contextlib.asynccontextmanager
async def bounded(commands: int) -> AsyncIterator[None]:
    """Bound the round trip of ``commands`` commands as a whole (:func:`pipeline_timeout`): past
    it, a :class:`redis.exceptions.TimeoutError`, a connection error as a reply's timeout is."""
    bound = pipeline_timeout(commands)
    try:
        async with asyncio.timeout(bound):
            yield
    except TimeoutError:
        raise RedisTimeoutError(f"{commands} commands not answered within {bound:g} s") from None
