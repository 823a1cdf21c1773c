"""The process's bullmq ``Queue`` objects: one per queue name, over one Redis client, made on
first use and closed once. The producer, the outbox relay and the admin layer all take their
queues from here (through :attr:`ils.queue.broker.Broker.queues`), so a process holds one set.
"""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aredis
from bullmq import Queue

from ils.queue.recurrence import use_strategy
from ils.queue.settings import Settings


class Queues:
    """The ``Queue`` of each name of one prefix, sharing the client ``connect`` makes.

    Every ``Queue`` here shares the one client, so :meth:`close` closes that client once and
    forgets the queues (a bullmq ``Queue.close()`` would close the shared client once per queue).
    A queue asked for after :meth:`close` comes with a new client.
    """

    def __init__(self, settings: Settings, connect: Callable[[], aredis.Redis]) -> None:
        self.settings = settings
        self._connect = connect
        self._client: aredis.Redis | None = None
        self._queues: dict[str, Queue] = {}

    def get(self, name: str) -> Queue:
        """The queue called ``name``; :class:`ConfigurationError` for a name not configured."""
        self.settings.queue(name)
        queue = self._queues.get(name)
        if queue is None:
            if self._client is None:
                self._client = self._connect()
            queue = Queue(name, {"connection": self._client, "prefix": self.settings.prefix})
            use_strategy(queue)  # job schedulers stepped right across clock changes
            self._queues[name] = queue
        return queue

    async def close(self) -> None:
        """Close the shared client (once, however many queues use it); idempotent."""
        self._queues.clear()
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
