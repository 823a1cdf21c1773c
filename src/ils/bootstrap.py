"""Assembles one process's job system from its settings: broker, registry, outbox and relay,
producer, dead letters, admin.

The CLI, the web app and the tests all build through :class:`JobSystem`, so there is exactly one
way a process gets its connections, and no hidden default ones.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gc
import logging
from collections.abc import Callable, Iterable
from importlib import import_module
from typing import TYPE_CHECKING, Any

from ils.domain.db import Database
from ils.jobs import build_registry
from ils.jobs.resources import Resources, check_kinds
from ils.queue.broker import Broker
from ils.queue.dead_letter_sweep import DeadLetterSweep
from ils.queue.outbox_probe import OutboxProbe
from ils.queue.processing import DeadLettersOnDemand
from ils.queue.producer import Producer, bind_producer, unbind_producer
from ils.queue.registry import JobType, Registry
from ils.queue.relay import OutboxRelay
from ils.queue.runtime import WorkerRuntime
from ils.queue.settings import QUEUE_NAMES
from ils.settings import IlsSettings

if TYPE_CHECKING:
    from ils.files import FileStorage
    from ils.jobs.ai.chat.provider import ChatProvider
    from ils.jobs.ai.pool import ModelPool
    from ils.jobs.email.mailer import Mailer
    from ils.jobs.notification.channel import NotificationPublisher
    from ils.jobs.oma.folders import OmaFolders
    from ils.jobs.pdf.pool import RenderPool
    from ils.jobs.webhooks.sender import WebhookSender
    from ils.queue.admin import QueueAdmin
    from ils.queue.dead_letters import DeadLetters
    from ils.queue.outbox import Outbox


def tune_gc_for_serving() -> None:
    """Collect the youngest generation every 20,000 allocations instead of every 700.

    A request allocates thousands of short-lived objects (ORM state, pydantic models), so
    with Python's default a collection ran every few requests and paused the event loop under
    everyone in flight; measured in bench/README.md (POST /api/orders p99 ~30% lower). The
    objects still die young and are reclaimed by reference counting; memory stays flat.
    """
    gc.set_threshold(20_000, 50, 100)


# ---- resource factories: each imports its module when the resource is first needed --------


def build_files(settings: IlsSettings) -> FileStorage:
    from ils.files import LocalFileStorage

    return LocalFileStorage(settings.files_root)


def build_mailer(settings: IlsSettings) -> Mailer:
    """The mailer of the settings' mail section (validated here)."""
    from ils.jobs.email.mailer import Mailer

    return Mailer(settings.mail_settings())


def build_renderer(settings: IlsSettings) -> RenderPool:
    """A process pool sized from the pdf queue's concurrency; processes start at the first
    render."""
    from ils.jobs.pdf.pool import RenderPool

    return RenderPool(settings.queue("pdf").concurrency)


def build_models(settings: IlsSettings) -> ModelPool:
    """A process pool sized from the ai queue's concurrency; processes start at the first fit."""
    from ils.jobs.ai.pool import ModelPool

    return ModelPool(settings.queue("ai").concurrency)


def build_chat(settings: IlsSettings) -> ChatProvider:
    """Offline, or the OpenAI-compatible API the settings' chat section names (validated here)."""
    from ils.jobs.ai.chat import build_provider

    return build_provider(settings.chat_settings())


def build_oma_folders(settings: IlsSettings) -> OmaFolders:
    from ils.jobs.oma.folders import OmaFolders

    return OmaFolders(settings.oma_root)


def build_webhooks(settings: IlsSettings) -> WebhookSender:
    """The webhook sender, with the settings' SSRF allow-list and timeout."""
    from ils.jobs.webhooks.sender import WebhookSender

    return WebhookSender(settings.webhook_settings())


def build_notifier(broker: Broker) -> NotificationPublisher:
    from ils.jobs.notification.channel import NotificationPublisher

    return NotificationPublisher(broker)


class JobSystem:
    """The parts of the job system one process uses, built from one :class:`IlsSettings`.

    ``database`` defaults to the settings' (``DATABASE_URL``, or SQLite under ``var_dir``); it is
    connected lazily, so processes that never touch it pay nothing. The producer is bound to its
    sessions, so a service enqueueing with its session needs no producer of its own. The
    handlers' other resources (:class:`~ils.jobs.resources.Resources`: files, mailer, PDF render
    pool, notifier, AI model pool, chat provider) are built when first needed, by the factories
    above; :meth:`runtime` makes those its queues' job types declare ready up front, so a bad
    setting fails at start-up (the mailer, chat provider and the PDF and AI pools have their
    settings validated there and are built by their first job: their libraries are heavy), and
    :meth:`close` closes only what was built. ``resources`` may hand in parts built elsewhere
    (tests: a mailer on a test SMTP server); those stay the caller's.
    The outbox lives in that database; its table is made by the migrations (never here).
    :meth:`start_background` starts the outbox relay's sweep, which every web and worker process
    runs; until something needs the database's engine, the sweep asks the database's own driver
    whether there is anything to do (:meth:`_outbox_due`), so a worker whose jobs have not used
    the database has not loaded SQLAlchemy.
    """

    def __init__(
        self,
        settings: IlsSettings,
        registry: Registry | None = None,
        resources: Resources | None = None,
        database: Database | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry or build_registry(settings.imports)
        # The types added so far (a registry imports a queue's job modules when first asked
        # about it): the rest are checked by :meth:`runtime` for the queues it works.
        self._check_kinds(self.registry.loaded_types())
        self.database = database or Database(settings.resolved_database_url())
        self.broker = Broker(settings)
        self.resources = resources or Resources()
        self.resources.give("db", self.database)
        factories: dict[str, Callable[[], object]] = {
            "files": lambda: build_files(settings),
            "mailer": lambda: build_mailer(settings),
            "pdf_renderer": lambda: build_renderer(settings),
            "ai_models": lambda: build_models(settings),
            "chat": lambda: build_chat(settings),
            "notifier": lambda: build_notifier(self.broker),
            "oma_folders": lambda: build_oma_folders(settings),
            "webhooks": lambda: build_webhooks(settings),
        }
        # What a worker's start checks instead of building (see Resources.start): their settings.
        checks: dict[str, Callable[[], object]] = {
            "mailer": settings.mail_settings,
            "chat": settings.chat_settings,
            "pdf_renderer": lambda: settings.queue("pdf"),
            "ai_models": lambda: settings.queue("ai"),
        }
        self.resources.provide(factories, checks)
        self._probe = OutboxProbe(self.database.direct)
        self.relay = OutboxRelay(lambda: self.outbox, self.broker, settings, probe=self._outbox_due)
        self.producer = Producer(
            settings, self.registry, self.broker, self.resources, relay=self.relay
        )
        self.resources.give("producer", self.producer)
        bind_producer(self.database.session_info, self.producer)
        # Jobs that fail for good are recorded in the database, their company's admins notified;
        # the store (SQLAlchemy) is made at the first one, the sweep reads Redis until then.
        self.dead_letter_sweep = DeadLetterSweep(
            lambda: self.dead_letters, self.broker, QUEUE_NAMES
        )

    @staticmethod
    def _check_kinds(job_types: Iterable[JobType]) -> None:
        for job_type in job_types:
            check_kinds(job_type.resources, f"job type {job_type.key}")

    @functools.cached_property
    def dead_letters(self) -> DeadLetters:
        """The dead-letter store (made at its first use: a job failed for good, an admin read)."""
        from ils.jobs.dead_letter_notice import notify_admins
        from ils.queue.dead_letters import DeadLetters

        return DeadLetters(self.database.sessions, self.broker, on_new=notify_admins(self.producer))

    @functools.cached_property
    def admin(self) -> QueueAdmin:
        """The queue admin view, outbox and dead letters included (the web app's and the CLI's:
        a worker never makes it)."""
        from ils.queue.admin import QueueAdmin
        from ils.queue.dead_letter_admin import DeadLetterAdmin
        from ils.queue.outbox_admin import OutboxAdmin

        admin = QueueAdmin(self.settings, self.broker, self.registry)
        admin.outbox = OutboxAdmin(self.relay, admin.job_type)
        admin.dead_letters = DeadLetterAdmin(self.dead_letters, self.producer, admin.job_type)
        return admin

    @functools.cached_property
    def outbox(self) -> Outbox:
        """The outbox in the database (on SQLAlchemy: made at its first use)."""
        from ils.queue.outbox import Outbox

        return Outbox(self.database.engine, self.database.sessions)

    async def _outbox_due(self, purge_before: dt.datetime | None) -> bool:
        """The relay's probe: whether its sweep has anything to do. Asked through the database's
        driver while the engine is not made; once it is (a job or a request used the database),
        the sweep's own queries cost no more, and the driver's connection is closed."""
        if self.database.built or not self.database.direct.can_read:
            await self.database.direct.close()
            return True
        return await self._probe.due(purge_before)

    @property
    def files(self) -> FileStorage:
        """The file storage (the web app serves documents from it)."""
        return self.resources.files

    @property
    def notifier(self) -> NotificationPublisher:
        """The live-channel publisher (the web app announces read receipts with it)."""
        return self.resources.notifier

    def runtime(self, queues: tuple[str, ...] = QUEUE_NAMES, **kwargs: Any) -> WorkerRuntime:
        """The workers of ``queues``, with the resources their job types declare built now; an
        ai worker without the ai extra is refused here (:class:`ConfigurationError`), not at its
        first job."""
        if "ai" in queues:
            from ils.jobs.ai.extra import require_ai_extra

            require_ai_extra()
        self._check_kinds(t for q in queues for t in self.registry.for_queue(q))
        self.resources.start(self.registry.resources_for(queues))
        kwargs.setdefault("dead_letters", DeadLettersOnDemand(lambda: self.dead_letters))
        return WorkerRuntime(
            self.settings, self.registry, self.broker, queues, self.resources, **kwargs
        )

    async def start_background(self) -> None:
        """Start this process's background duties: the outbox relay's periodic sweep, the
        dead-letter sweep, (SQLite) the WAL checkpoints, and the embedded server's watch (it
        restarts the server when it dies: :mod:`ils.queue.embedded_watch`). A Redis Cluster node
        without ``redis_cluster`` (or a server that is none with it), and queues on several
        servers or cluster slots that split a flow, are refused first (``ConfigurationError``)."""
        queues = self.settings.queues.values()
        if self.settings.redis_cluster or any(spec.redis_url for spec in queues):
            from ils.jobs.flows import check_servers  # the app's flows: only where queues shard

            check_servers(self.settings)
        await self.broker.refuse_clusters()
        self.broker.start_watch()
        await self.database.start_background()
        self.relay.start()
        self.dead_letter_sweep.start()

    async def start_schedules(self) -> None:
        """What a process that works the scheduled queue does once its workers have started, in
        the background: the runs missed while none did follow their schedules' policy, and
        Redis's job schedulers are made equal to the schedule rows
        (:func:`ils.jobs.scheduled.reconcile.start`). Its modules (SQLAlchemy and the ORM models,
        a few hundred ms of CPU) are imported on a thread, so the workers take their first jobs
        meanwhile. An outage or a missing table is logged, never fatal: the next start, or the
        next change, tries again."""
        try:
            reconcile = await asyncio.to_thread(import_module, "ils.jobs.scheduled.reconcile")
            await reconcile.start(self.database, self.producer)
        except Exception as exc:
            logging.getLogger("ils.jobs.scheduled").warning(
                "could not bring the schedules up to date: %s", exc
            )

    async def stop_background(self) -> None:
        """Stop the sweep (relays under way get a few seconds, the rest stays for a sweep) and
        the checkpoints."""
        await self.dead_letter_sweep.stop()
        await self.relay.stop()
        await self.database.stop_background()

    async def close(self) -> None:
        unbind_producer(self.database.session_info, self.producer)
        await self.dead_letter_sweep.stop()
        await self.relay.stop()
        await self.resources.close()
        await self.broker.close()
        await self.database.dispose()
