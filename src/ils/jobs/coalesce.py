"""Coalescing the database work of jobs that run at once in one process: the calls made while a
batch is under way wait, and go together in the next one (one query or one transaction for the
many jobs of a busy worker, instead of one each; on SQLite, whose one connection a process's
transactions queue for, that is the difference between keeping up and falling behind).

A call made while nothing is under way starts a batch at once (after the current step of the
event loop), so a lone call waits no longer than it would alone; a call never joins a batch
already under way, so what it reads was read after it was made. The coalescers of one database
live in one object per database and process (:class:`PerObject`).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
MadeT = TypeVar("MadeT")

#: Runs one batch: one result per item, in order, each a value or the exception for that item.
RunBatch = Callable[[list[K]], Awaitable[Sequence[V | BaseException]]]


class Coalescer(Generic[K, V]):
    """``await coalescer(item)``: ``run`` is called with the items of the calls waiting (at most
    ``max_batch`` at a time), and each call gets its item's result, or raises its exception. An
    exception of ``run`` itself is every item's."""

    def __init__(self, run: RunBatch[K, V], max_batch: int = 100) -> None:
        self.run = run
        self.max_batch = max_batch
        self._waiting: list[tuple[K, asyncio.Future[V]]] = []
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, item: K) -> V:
        future: asyncio.Future[V] = asyncio.get_running_loop().create_future()
        self._waiting.append((item, future))
        if self._task is None or self._task.done():
            # The reference kept here also keeps the task from being garbage-collected mid-run.
            self._task = asyncio.ensure_future(self._drain())
        return await future

    async def _drain(self) -> None:
        batch: list[tuple[K, asyncio.Future[V]]] = []
        try:
            while self._waiting:
                batch = self._waiting[: self.max_batch]
                del self._waiting[: self.max_batch]
                try:
                    results: Sequence[V | BaseException] = await self.run(
                        [item for item, _ in batch]
                    )
                except Exception as exc:
                    results = [exc] * len(batch)
                for (_, future), result in zip(batch, results, strict=True):
                    if future.done():  # its caller was cancelled: the batch went on without it
                        continue
                    if isinstance(result, BaseException):
                        future.set_exception(result)
                    else:
                        future.set_result(result)
        finally:  # cancelled (the process stops): no caller is left waiting for nothing
            for _, future in [*batch, *self._waiting]:
                if not future.done():
                    future.cancel()


class PerObject(Generic[K, MadeT]):
    """``per_object(key)``: the one object of ``key`` in this process, made by ``make(key)`` at its
    first use and kept while ``key`` lives (a database's coalescers, for every job using it)."""

    def __init__(self, make: Callable[[K], MadeT]) -> None:
        self.make = make
        self._made: weakref.WeakKeyDictionary[K, MadeT] = weakref.WeakKeyDictionary()

    def __call__(self, key: K) -> MadeT:
        found = self._made.get(key)
        if found is None:
            found = self._made[key] = self.make(key)
        return found
