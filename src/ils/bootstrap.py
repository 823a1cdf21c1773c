"""Assembles one process's job system from its settings: broker, registry, producer, admin.

The CLI, the web app and the tests all build through :class:`JobSystem`, so there is exactly one
way a process gets its connections, and no hidden default ones.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from typing import Any

from ils.domain.db import Database, database_url
from ils.jobs import build_registry
from ils.jobs.helpers import install_producer, uninstall_producer
from ils.queue.admin import QueueAdmin
from ils.queue.broker import Broker
from ils.queue.producer import Producer
from ils.queue.registry import Registry
from ils.queue.runtime import WorkerRuntime
from ils.queue.settings import QUEUE_NAMES, Settings

LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level.upper(), format=LOG_FORMAT)


class JobSystem:
    """The parts of the job system one process uses, built from one :class:`Settings`.

    ``database`` defaults to ``DATABASE_URL`` (or the SQLite file under the var directory); it is
    connected lazily, so processes that never touch it pay nothing. Handlers find it in their
    context's resources as ``db``.
    """

    def __init__(
        self,
        settings: Settings,
        registry: Registry | None = None,
        resources: Mapping[str, Any] | None = None,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or build_registry(settings.imports)
        self.database = database or Database(database_url(os.environ, settings.var_dir))
        self.resources = {"db": self.database, **(resources or {})}
        self.broker = Broker(settings)
        self.producer = Producer(settings, self.registry, self.broker, self.resources)
        self.admin = QueueAdmin(settings, self.broker)

    def runtime(self, queues: tuple[str, ...] = QUEUE_NAMES, **kwargs: Any) -> WorkerRuntime:
        return WorkerRuntime(
            self.settings, self.registry, self.broker, queues, self.resources, **kwargs
        )

    def install(self) -> None:
        """Make this system's producer the one the typed helpers use."""
        install_producer(self.producer)

    async def close(self) -> None:
        uninstall_producer(self.producer)
        await self.producer.close()
        await self.admin.close()
        await self.broker.close()
        await self.database.dispose()
