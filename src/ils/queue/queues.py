"""The process's bullmq ``Queue`` objects: one per queue name, over one Redis client, made on
first use and closed once. The producer, the outbox relay and the admin layer all take their
queues from here (through :attr:`ils.queue.broker.Broker.queues`), so a process holds one set,
and the one ``FlowProducer`` that adds flows (:mod:`ils.queue.flow_store`) over the same client.
"""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aredis
from bullmq import FlowProducer, Queue

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
        self._flows: FlowProducer | None = None

    def _shared(self) -> aredis.Redis:
        if self._client is None:
            self._client = self._connect()
        return self._client

    def get(self, name: str) -> Queue:
        """The queue called ``name``; :class:`ConfigurationError` for a name not configured."""
        self.settings.queue(name)
        queue = self._queues.get(name)
        if queue is None:
            queue = Queue(name, {"connection": self._shared(), "prefix": self.settings.prefix})
            use_strategy(queue)  # job schedulers stepped right across clock changes
            self._queues[name] = queue
        return queue

    def flow_producer(self) -> FlowProducer:
        """The ``FlowProducer`` over the shared client (never closed itself: :meth:`close`
        closes the client)."""
        if self._flows is None:
            opts = {"connection": self._shared(), "prefix": self.settings.prefix}
            self._flows = FlowProducer(opts)
        return self._flows

    async def close(self) -> None:
        """Close the shared client (once, however many queues use it); idempotent."""
        self._queues.clear()
        self._flows = None
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
