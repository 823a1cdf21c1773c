"""The process's bullmq ``Queue`` objects: one per queue name, over one Redis client per server,
made on first use and closed once. The producer, the outbox relay, the workers' helpers and the
admin layer all take their queues from here (through :attr:`ils.queue.broker.Broker.queues`), so a
process holds one set, one ``FlowProducer`` per server that adds flows
(:mod:`ils.queue.flow_store`) over the same client, and one
:class:`~ils.queue.engine_add.EngineAdder` per queue, whose adds go over a second client per server
(a ``bounded`` one: no timer per write or reply, each add bounded as a whole). This is the one
place where a queue's server is chosen (its ``redis_url``, else the deployment's: issue 21, queues
sharded over servers), and its key prefix (on a Redis Cluster hash-tagged:
:meth:`~ils.queue.settings.Settings.queue_prefix`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Literal

import redis.asyncio as aredis
from bullmq import FlowProducer, Queue

from ils.queue.recurrence import use_strategy
from ils.queue.settings import Settings

if TYPE_CHECKING:
    from ils.queue.engine_add import EngineAdder

#: The clients a server's queues use: their commands, and the job adds.
Use = Literal["producer", "bounded"]


class Queues:
    """The ``Queue`` of each name of one prefix; the queues of one server share one client.

    ``url_of`` gives a queue's server URL (None: the deployment's), ``connect`` a client to a URL
    for a use.
    :meth:`close` closes each server's client once and forgets the queues (a bullmq
    ``Queue.close()`` would close the shared client once per queue). A queue asked for after
    :meth:`close` comes with a new client.
    """

    def __init__(
        self,
        settings: Settings,
        url_of: Callable[[str | None], str],
        connect: Callable[[str, Use], aredis.Redis],
    ) -> None:
        self.settings = settings
        self._url_of = url_of
        self._connect = connect
        self._clients: dict[tuple[str, Use], aredis.Redis] = {}
        self._queues: dict[str, Queue] = {}
        self._adders: dict[str, EngineAdder] = {}
        self._flows: dict[tuple[str, str], FlowProducer] = {}
        self._loaded: set[tuple[str, str]] = set()  # flow producers with scripts loaded

    def url(self, name: str) -> str:
        """The URL of the server queue ``name`` lives on (:class:`ConfigurationError` for a name
        not configured)."""
        self.settings.queue(name)
        return self._url_of(name)

    def client(self, name: str, use: Use = "producer") -> aredis.Redis:
        """The client shared by the queues on ``name``'s server (for ``use``)."""
        key = (self.url(name), use)
        client = self._clients.get(key)
        if client is None:
            client = self._clients[key] = self._connect(*key)
        return client

    def get(self, name: str) -> Queue:
        """The queue called ``name``; :class:`ConfigurationError` for a name not configured."""
        queue = self._queues.get(name)
        if queue is None:
            opts = {"connection": self.client(name), "prefix": self.settings.queue_prefix(name)}
            queue = Queue(name, opts)
            use_strategy(queue)  # job schedulers stepped right across clock changes
            self._queues[name] = queue
        return queue

    def adder(self, name: str) -> EngineAdder:
        """The :class:`~ils.queue.engine_add.EngineAdder` of queue ``name``. Its adds use the
        server's ``bounded`` client, except on a Redis Cluster, where they keep the queue's own
        client (a timeout per read)."""
        adder = self._adders.get(name)
        if adder is None:
            from ils.queue.engine_add import EngineAdder

            queue = self.get(name)
            bounded = None if self.settings.redis_cluster else self.client(name, "bounded")
            adder = self._adders[name] = EngineAdder(queue, bounded)
        return adder

    def flow_producer(self, name: str) -> FlowProducer:
        """The ``FlowProducer`` of the server (and key prefix) queue ``name`` lives on, over its
        shared client (never closed itself: :meth:`close` closes the client)."""
        where = (self.url(name), self.settings.queue_prefix(name))
        flows = self._flows.get(where)
        if flows is None:
            opts = {"connection": self.client(name), "prefix": where[1]}
            flows = self._flows[where] = FlowProducer(opts)
        return flows

    async def ready_flow_producer(self, name: str, reload: bool = False) -> FlowProducer:
        """:meth:`flow_producer`, its scripts loaded first on a Redis Cluster (or again with
        ``reload``): a cluster's MULTI/EXEC loads no script itself, and a script missing in it
        would fail its own command while the others of the flow ran."""
        flows = self.flow_producer(name)
        where = (self.url(name), self.settings.queue_prefix(name))
        if self.settings.redis_cluster and (reload or where not in self._loaded):
            client = self.client(name)
            for script in flows.backend.connection.commands.values():
                await client.script_load(script.script)  # on every primary node
            self._loaded.add(where)
        return flows

    async def close(self) -> None:
        """Close each server's shared client (once, however many queues use it); idempotent."""
        self._queues.clear()
        self._adders.clear()
        self._flows.clear()
        self._loaded.clear()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
