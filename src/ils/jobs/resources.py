"""The resources ILS job handlers use, built on first need: the database, file storage, mailer,
PDF render pool, notification publisher, AI model pool, chat provider, the producer, the
OMA drop folders and the webhook sender.

A job type names the kinds its handler uses (``@job(..., resources=("db", "mailer"))``); its
handler reads them as typed attributes of ``ctx.resources`` (``ctx.resources.mailer``), and one it
did not declare is a :class:`ConfigurationError`. Each kind's module is imported by its factory
(in :mod:`ils.bootstrap`), so a process imports and starts only what its queues' job types
use. A caller may hand in parts it built itself (``Resources(mailer=...)``); those it keeps and
closes, the rest are closed by :meth:`Resources.close`.
"""

from __future__ import annotations

import copy
import difflib
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Generic, TypedDict, TypeVar, Unpack, cast, overload

from ils.errors import ConfigurationError
from ils.queue.context import JobContext

if TYPE_CHECKING:
    from ils.domain.db import Database
    from ils.files import FileStorage
    from ils.jobs.ai.chat.provider import ChatProvider
    from ils.jobs.ai.pool import ModelPool
    from ils.jobs.email.mailer import Mailer
    from ils.jobs.notification.channel import NotificationPublisher
    from ils.jobs.oma.folders import OmaFolders
    from ils.jobs.pdf.pool import RenderPool
    from ils.jobs.webhooks.sender import WebhookSender
    from ils.queue.producer import Producer


def check_kinds(kinds: Iterable[str], owner: str) -> None:
    """A :class:`ConfigurationError` (with "did you mean") for a kind no process provides."""
    for kind in kinds:
        if kind not in KINDS:
            near = difflib.get_close_matches(kind, KINDS, n=1)
            hint = f"; did you mean {near[0]!r}?" if near else f" (known: {', '.join(KINDS)})"
            raise ConfigurationError(f"{owner}: unknown resource {kind!r}{hint}")


T = TypeVar("T")


class Kind(Generic[T]):
    """A typed attribute of :class:`Resources`: reading it gets (or first builds) that kind."""

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type) -> Kind[T]: ...
    @overload
    def __get__(self, obj: Resources, owner: type) -> T: ...
    def __get__(self, obj: Resources | None, owner: type) -> Kind[T] | T:
        if obj is None:
            return self
        return cast(T, obj.get(self.name))


class Given(TypedDict, total=False):
    """The parts a caller built itself and hands in, by kind (one of :data:`KINDS`)."""

    db: Database
    files: FileStorage
    mailer: Mailer
    pdf_renderer: RenderPool
    notifier: NotificationPublisher
    ai_models: ModelPool
    chat: ChatProvider
    producer: Producer
    oma_folders: OmaFolders
    webhooks: WebhookSender


class _Store:
    """What every view of one process's resources shares."""

    def __init__(self, given: dict[str, object]) -> None:
        self.given = given
        self.factories: dict[str, Callable[[], object]] = {}
        self.checks: dict[str, Callable[[], object]] = {}
        self.built: dict[str, object] = {}


class Resources:
    """One process's resources (or, from :meth:`scoped`, the part of them a job type declared)."""

    def __init__(self, **given: Unpack[Given]) -> None:
        self._store = _Store(dict(given))
        self._allowed: frozenset[str] | None = None

    def provide(
        self,
        factories: Mapping[str, Callable[[], object]],
        checks: Mapping[str, Callable[[], object]] | None = None,
    ) -> None:
        """How to build each kind not handed in, when first needed; ``checks``, for kinds whose
        building loads heavy libraries (templates, PDF, SMTP, the ORM), what :meth:`start` does
        instead of building them: validate their settings."""
        check_kinds(factories, "resource factories")
        check_kinds(checks or {}, "resource checks")
        self._store.factories.update(factories)
        self._store.checks.update(checks or {})

    def give(self, kind: str, value: object) -> None:
        """Hand in ``kind`` unless the caller already did (the job system gives its database
        and producer)."""
        check_kinds([kind], "resources")
        self._store.given.setdefault(kind, value)

    def is_given(self, kind: str) -> bool:
        return kind in self._store.given

    def get(self, kind: str) -> object:
        """``kind``, built now if this is its first use."""
        if self._allowed is not None and kind not in self._allowed:
            raise ConfigurationError(
                f"resource {kind!r} is not declared by this job type: add it to its "
                f"@job(resources=...)"
            )
        store = self._store
        if kind in store.given:
            return store.given[kind]
        if kind not in store.built:
            factory = store.factories.get(kind)
            if factory is None:
                raise ConfigurationError(f"this process has no {kind!r} resource")
            store.built[kind] = factory()
        return store.built[kind]

    def start(self, kinds: Iterable[str]) -> None:
        """Make ``kinds`` ready now (a worker's, at start-up: a bad setting fails here, not in a
        job): a kind with a check has its settings validated and is built at its first use (its
        libraries are loaded by the first job that needs them, not by the start); the others are
        built."""
        wanted = sorted(kinds)
        check_kinds(wanted, "start")
        store = self._store
        for kind in wanted:
            check = store.checks.get(kind)
            if check is not None and kind not in store.given and kind not in store.built:
                check()
            else:
                self.get(kind)

    def built(self) -> tuple[str, ...]:
        """The kinds built so far (not those handed in)."""
        return tuple(self._store.built)

    def scoped(self, kinds: frozenset[str]) -> Resources:
        """The view a job of a type declaring ``kinds`` gets (shares what is built)."""
        view = copy.copy(self)
        view._allowed = kinds
        return view

    async def close(self) -> None:
        """Close what was built here, newest first; what was handed in stays open."""
        built = self._store.built
        for kind in reversed(list(built)):
            close = getattr(built.pop(kind), "close", None)
            if close is not None:
                await close()

    db = Kind["Database"]()
    files = Kind["FileStorage"]()
    mailer = Kind["Mailer"]()
    pdf_renderer = Kind["RenderPool"]()
    notifier = Kind["NotificationPublisher"]()
    ai_models = Kind["ModelPool"]()
    chat = Kind["ChatProvider"]()
    producer = Kind["Producer"]()
    oma_folders = Kind["OmaFolders"]()
    webhooks = Kind["WebhookSender"]()


# The kinds a job type may declare: the typed attributes above.
KINDS = tuple(name for name, value in vars(Resources).items() if isinstance(value, Kind))

# What an ILS handler gets: ``async def handler(payload: MyPayload, ctx: Ctx)``.
Ctx = JobContext[Resources]
