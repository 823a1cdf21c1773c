"""The process's bullmq ``Queue`` objects: one per queue name, over one Redis client per server,
made on first use and closed once. The producer, the outbox relay, the workers' helpers and the
admin layer all take their queues from here (through :attr:`ils.queue.broker.Broker.queues`), so
a process holds one set, and one ``FlowProducer`` per server that adds flows
(:mod:`ils.queue.flow_store`) over the same client. This is the one place where a queue's server
is chosen (its ``redis_url``, else the deployment's: issue 21, queues sharded over servers), and
its key prefix (on a Redis Cluster hash-tagged: :meth:`~ils.queue.settings.Settings.queue_prefix`).
"""

from __future__ import annotations

from collections.abc import Callable

import redis.asyncio as aredis
from bullmq import FlowProducer, Queue

from ils.queue.recurrence import use_strategy
from ils.queue.settings import Settings


class Queues:
    """The ``Queue`` of each name of one prefix; the queues of one server share one client.

    ``url_of`` gives a queue's server URL (None: the deployment's), ``connect`` a client to a URL.
    :meth:`close` closes each server's client once and forgets the queues (a bullmq
    ``Queue.close()`` would close the shared client once per queue). A queue asked for after
    :meth:`close` comes with a new client.
    """

    def __init__(
        self,
        settings: Settings,
        url_of: Callable[[str | None], str],
        connect: Callable[[str], aredis.Redis],
    ) -> None:
        self.settings = settings
        self._url_of = url_of
        self._connect = connect
        self._clients: dict[str, aredis.Redis] = {}
        self._queues: dict[str, Queue] = {}
        self._flows: dict[tuple[str, str], FlowProducer] = {}
        self._loaded: set[tuple[str, str]] = set()  # flow producers with scripts loaded

    def url(self, name: str) -> str:
        """The URL of the server queue ``name`` lives on (:class:`ConfigurationError` for a name
        not configured)."""
        self.settings.queue(name)
        return self._url_of(name)

    def client(self, name: str) -> aredis.Redis:
        """The client shared by the queues on ``name``'s server."""
        url = self.url(name)
        client = self._clients.get(url)
        if client is None:
            client = self._clients[url] = self._connect(url)
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
        self._flows.clear()
        self._loaded.clear()
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
