"""Assembles one process's job system from its settings: broker, registry, outbox and relay,
producer, admin.

The CLI, the web app and the tests all build through :class:`JobSystem`, so there is exactly one
way a process gets its connections, and no hidden default ones.
"""

from __future__ import annotations

import gc
import logging
from collections.abc import Mapping
from typing import Any

from ils.domain.db import Database
from ils.files import FileStorage, LocalFileStorage
from ils.jobs import build_registry
from ils.jobs.ai import ModelPool, require_ai_extra
from ils.jobs.ai.chat import ChatProvider, build_provider
from ils.jobs.ai.schedule import install_briefing_schedules
from ils.jobs.email import Mailer
from ils.jobs.helpers import install_producer, uninstall_producer
from ils.jobs.notification import NotificationPublisher
from ils.jobs.pdf import RenderPool
from ils.queue.admin import QueueAdmin
from ils.queue.broker import Broker
from ils.queue.outbox import Outbox
from ils.queue.outbox_admin import OutboxAdmin
from ils.queue.producer import Producer
from ils.queue.registry import Registry
from ils.queue.relay import OutboxRelay
from ils.queue.runtime import WorkerRuntime
from ils.queue.settings import QUEUE_NAMES
from ils.settings import IlsSettings


def tune_gc_for_serving() -> None:
    """Collect the youngest generation every 20,000 allocations instead of every 700.

    A request allocates thousands of short-lived objects (ORM state, pydantic models), so
    with Python's default a collection ran every few requests and paused the event loop under
    everyone in flight; measured in bench/README.md (POST /api/orders p99 ~30% lower). The
    objects still die young and are reclaimed by reference counting; memory stays flat.
    """
    gc.set_threshold(20_000, 50, 100)


class JobSystem:
    """The parts of the job system one process uses, built from one :class:`IlsSettings`.

    ``database`` defaults to the settings' (``DATABASE_URL``, or SQLite under ``var_dir``); it is
    connected lazily, so processes that never touch it pay nothing. Handlers find it in their
    context's resources as ``db``, and the email handlers find the process's ``mailer`` there,
    built from the settings' mail section (validated here, at start-up) unless
    ``resources`` brings one. The PDF handlers find ``pdf_renderer`` (a process pool sized from
    the pdf queue's concurrency; its processes start at the first render and stop at
    :meth:`close`) and ``files`` (the file storage under ``files_dir``); the notification
    handlers announce with its ``notifier``. The AI handlers fit their models in ``ai_models`` (a
    process pool sized from the ai queue's concurrency, started at the first fit) and enqueue
    their follow-up jobs with ``producer``; the chat-response job answers with ``chat_provider``
    (offline, or the OpenAI-compatible API the chat section names, validated here).
    The outbox lives in that database; its table is made by the migrations (never here).
    :meth:`start_background` starts the outbox relay's sweep, which every web and worker process
    runs.
    """

    def __init__(
        self,
        settings: IlsSettings,
        registry: Registry | None = None,
        resources: Mapping[str, Any] | None = None,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or build_registry(settings.imports)
        self.database = database or Database(settings.resolved_database_url())
        given = dict(resources or {})
        self._owns_mailer = "mailer" not in given
        if self._owns_mailer:
            given["mailer"] = Mailer(settings.mail_settings())
        self.mailer: Mailer = given["mailer"]
        self._owns_renderer = "pdf_renderer" not in given
        if self._owns_renderer:
            given["pdf_renderer"] = RenderPool(settings.queue("pdf").concurrency)
        self.renderer: RenderPool = given["pdf_renderer"]
        if "files" not in given:
            given["files"] = LocalFileStorage(settings.files_root)
        self.files: FileStorage = given["files"]
        self._owns_models = "ai_models" not in given
        if self._owns_models:
            given["ai_models"] = ModelPool(settings.queue("ai").concurrency)
        self.models: ModelPool = given["ai_models"]
        self._owns_chat = "chat_provider" not in given
        if self._owns_chat:
            given["chat_provider"] = build_provider(settings.chat_settings())
        self.chat: ChatProvider = given["chat_provider"]
        self.broker = Broker(settings)
        self._owns_notifier = "notifier" not in given
        if self._owns_notifier:
            given["notifier"] = NotificationPublisher(self.broker)
        self.notifier: NotificationPublisher = given["notifier"]
        self.resources = {"db": self.database, **given}
        self.outbox = Outbox(self.database.engine, self.database.sessions)
        self.relay = OutboxRelay(self.outbox, self.broker, settings)
        self.producer = Producer(
            settings, self.registry, self.broker, self.resources, relay=self.relay
        )
        self.resources.setdefault("producer", self.producer)
        self.admin = QueueAdmin(settings, self.broker, self.registry)
        self.admin.outbox = OutboxAdmin(self.outbox, self.relay, self.admin.job_type)

    def runtime(self, queues: tuple[str, ...] = QUEUE_NAMES, **kwargs: Any) -> WorkerRuntime:
        """The workers of ``queues``; an ai worker without the ai extra is refused here
        (:class:`ConfigurationError`), not at its first job."""
        if "ai" in queues:
            require_ai_extra()
        return WorkerRuntime(
            self.settings, self.registry, self.broker, queues, self.resources, **kwargs
        )

    def install(self) -> None:
        """Make this system's producer the one the typed helpers use."""
        install_producer(self.producer)

    async def start_background(self) -> None:
        """Start this process's background duties: the outbox relay's periodic sweep, and
        (SQLite) the WAL checkpoints."""
        await self.database.start_background()
        self.relay.start()

    async def install_schedules(self) -> list[str]:
        """Upsert the job schedulers of this system's recurring jobs (the daily briefing of each
        company, 08:00 local); an outage or a missing table is logged, never fatal."""
        try:
            return await install_briefing_schedules(self.database, self.producer)
        except Exception as exc:
            logging.getLogger("ils.jobs.ai").warning("could not install the schedules: %s", exc)
            return []

    async def stop_background(self) -> None:
        """Stop the sweep (relays under way get a few seconds, the rest stays for a sweep) and
        the checkpoints."""
        await self.relay.stop()
        await self.database.stop_background()

    async def close(self) -> None:
        uninstall_producer(self.producer)
        await self.relay.stop()
        await self.broker.close()
        if self._owns_mailer:
            await self.mailer.close()
        if self._owns_renderer:
            await self.renderer.close()
        if self._owns_models:
            await self.models.close()
        if self._owns_chat:
            await self.chat.close()
        if self._owns_notifier:
            await self.notifier.close()
        await self.database.dispose()
