"""Adding a bulk's chunks in order over one connection, several chunks sent before the first one's
answers are read: Redis runs one chunk while the next is built, and runs them as they were sent,
so the queue gets the bulk's jobs in the order given (pipelines on several connections would be
interleaved by Redis, chunk with chunk).

redis-py's pipelines send their commands and then read every answer before the next pipeline may
use the connection; this module sends each chunk with the connection's own ``pack_commands`` and
``send_packed_command`` and reads the answers with its ``read_response``, the steps a pipeline
takes, in an order a pipeline does not allow. Each send and each chunk's answers are bounded as
a whole (:func:`ils.queue.add_bound.bounded`). A connection error stops the stream: the
connection is dropped (answers may be left on it), and the chunks confirmed so far are returned
with the error, for the caller to apply its fallback to the rest (every job's id is fixed, so a
job sent again is added once).

The scripts are loaded before an adder's first stream. A chunk answered ``NOSCRIPT`` (the server
lost them since: restarted or flushed) is added again through
:meth:`~ils.queue.engine_add.EngineAdder.add_many`, which loads them; only then can a bulk's jobs
end up out of order. On a Redis Cluster each chunk is one pipeline, one after the
other.
"""

from __future__ import annotations

import collections
from collections.abc import Iterable, Sequence
from typing import Any

from redis.exceptions import NoScriptError, ResponseError

from ils.queue.add_bound import bounded
from ils.queue.broker import is_connection_error
from ils.queue.engine_add import BulkJob, EngineAdder

#: The answers of one chunk: each job's id, or the error Redis answered for it.
Answers = list[str | BaseException]


async def add_in_order(
    adder: EngineAdder, chunks: Iterable[Sequence[BulkJob]], in_flight: int
) -> tuple[list[Answers], BaseException | None]:
    """Add ``chunks`` in order, ``in_flight`` of them sent before the first one's answers are read
    (``chunks`` may be a generator: the next chunk is built while Redis runs the last). Each
    confirmed chunk's answers, in order, and the connection error that stopped the rest (None:
    every chunk confirmed). Any other error is raised."""
    if adder.cluster:
        return await _one_pipeline_each(adder, chunks)
    done: list[tuple[Sequence[BulkJob], Answers]] = []
    error: BaseException | None = None
    sent: collections.deque[tuple[Sequence[BulkJob], int, int]] = collections.deque()
    pool = adder.client.connection_pool
    try:
        await adder.ensure_scripts()
        connection = await pool.get_connection()
    except Exception as exc:
        if not is_connection_error(exc):
            raise
        return [], exc
    try:
        for jobs in chunks:
            commands, indexed = adder.commands_of(jobs)
            async with bounded(len(commands)):
                await connection.send_packed_command(connection.pack_commands(commands))
            sent.append((jobs, len(commands), indexed))
            if len(sent) >= in_flight:
                done.append(await _answers(adder, connection, *sent.popleft()))
        while sent:
            done.append(await _answers(adder, connection, *sent.popleft()))
    except Exception as exc:
        await connection.disconnect(nowait=True)
        if not is_connection_error(exc):
            raise
        error = exc
    except BaseException:  # cancelled: answers may be left on the connection
        await connection.disconnect(nowait=True)
        raise
    finally:
        await pool.release(connection)
    out: list[Answers] = []
    for jobs, answers in done:
        if any(isinstance(a, NoScriptError) for a in answers):
            try:
                answers = await adder.add_many(jobs)  # loads the scripts, sends the chunk again
            except Exception as exc:
                if not is_connection_error(exc):
                    raise
                return out, exc
        out.append(answers)
    return out, error


async def _answers(
    adder: EngineAdder, connection: Any, jobs: Sequence[BulkJob], count: int, indexed: int
) -> tuple[Sequence[BulkJob], Answers]:
    """Read the ``count`` answers to one chunk's commands (an error answer is its own)."""
    results: list[Any] = []
    async with bounded(count):
        for _ in range(count):
            try:
                results.append(await connection.read_response())
            except ResponseError as exc:
                results.append(exc)
    return jobs, adder.job_ids(results, indexed)


async def _one_pipeline_each(
    adder: EngineAdder, chunks: Iterable[Sequence[BulkJob]]
) -> tuple[list[Answers], BaseException | None]:
    done: list[Answers] = []
    for jobs in chunks:
        try:
            done.append(await adder.add_many(jobs))
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            return done, exc
    return done, None
