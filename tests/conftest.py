"""Shared fixtures: a real Redis (the machine's, else an embedded server), isolated prefixes.

Every test gets its own key prefix on a database other than 0, and its keys are deleted after.
Tests that stop or restart a server start their own embedded one (see ``own_server``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from argon2 import PasswordHasher

from ils.bootstrap import JobSystem
from ils.domain import passwords
from ils.domain.db import Database
from ils.domain.migrate import upgrade
from ils.jobs import build_registry
from ils.jobs.ai.pool import ModelPool
from ils.jobs.resources import Resources
from ils.queue.embedded import EmbeddedServer
from ils.queue.registry import Registry
from ils.queue.settings import DEFAULT_QUEUES, Settings
from ils.settings import IlsSettings, load_settings
from tests.support.databases import BACKENDS, PG_URL, POOL, open_database
from tests.support.running import Records

REPO = Path(__file__).resolve().parent.parent
TEST_DB = 9
MACHINE_REDIS = f"redis://127.0.0.1:6379/{TEST_DB}"


@pytest.fixture(scope="session", autouse=True)
def real_password_hasher() -> Iterator[PasswordHasher]:
    """Argon2id at its cheapest for the hashes made and checked in this test process; the real
    one (64 MiB and three passes a check, slow on purpose) is yielded for the tests of its
    parameters (tests/test_passwords.py). Hundreds of logins at the real cost were a large part
    of the suite's CPU and proved nothing more. ``ils`` subprocesses keep the real cost."""
    with pytest.MonkeyPatch.context() as patch:
        real = passwords._hasher
        patch.setattr(
            passwords, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
        )
        yield real


def _answers(url: str) -> bool:
    client = redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=2)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The machine's Redis when it answers; otherwise an embedded server for this session."""
    if os.environ.get("ILS_TEST_REDIS_URL"):
        yield os.environ["ILS_TEST_REDIS_URL"]
        return
    if _answers(MACHINE_REDIS):
        yield MACHINE_REDIS
        return
    server = EmbeddedServer(tmp_path_factory.mktemp("redis"))
    url = server.ensure()
    try:
        yield url.rsplit("/", 1)[0] + f"/{TEST_DB}"
    finally:
        server.stop()


def delete_prefix(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.delete(*keys[i : i + 500])
    finally:
        client.close()


@pytest.fixture
def prefix(redis_url: str) -> Iterator[str]:
    p = f"t{uuid.uuid4().hex[:10]}"
    yield p
    delete_prefix(redis_url, p)


def make_settings(redis_url: str, prefix: str, tmp_path: Path, **overrides: Any) -> IlsSettings:
    """Test settings: short heartbeats and grace; ``queue_overrides`` tweaks queue specs."""
    env = {
        "REDIS_URL": redis_url,
        "ILS_REDIS_PREFIX": prefix,
        "ILS_VAR_DIR": str(tmp_path / "var"),
        "ILS_HEARTBEAT_INTERVAL_S": "1",
        "ILS_SHUTDOWN_GRACE_S": "10",
    }
    env.update({k: str(v) for k, v in overrides.pop("env", {}).items()})
    return load_settings(env, cli=overrides)


@pytest.fixture
def settings(redis_url: str, prefix: str, tmp_path: Path) -> IlsSettings:
    return make_settings(redis_url, prefix, tmp_path)


@pytest.fixture(scope="session")
def migrated_sqlite(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite database migrated to the newest revision, once per session, to copy from."""
    path = tmp_path_factory.mktemp("migrated") / "ils.db"
    upgrade(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture
def worker_env(
    redis_url: str, prefix: str, tmp_path: Path, migrated_sqlite: Path
) -> dict[str, str]:
    """Environment for an ``ils`` subprocess that shares this test's Redis and prefix; its
    var directory holds a migrated SQLite database (``serve`` and ``worker`` refuse others)."""
    var = tmp_path / "var"
    var.mkdir(mode=0o700, exist_ok=True)
    db_file = var / "ils.db"
    if not db_file.exists() or db_file.stat().st_size == 0:  # none, or made empty by a Database
        shutil.copyfile(migrated_sqlite, var / "ils.db")
        (var / "ils.db").chmod(0o600)  # as ILS makes it
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_"))}
    env.update(
        {
            "REDIS_URL": redis_url,
            "ILS_REDIS_PREFIX": prefix,
            "ILS_VAR_DIR": str(tmp_path / "var"),
            "ILS_HEARTBEAT_INTERVAL_S": "1",
            "PYTHONPATH": str(REPO),
            "PYTHONUNBUFFERED": "1",
        }
    )
    return env


def probe_registry(imports: tuple[str, ...] = ("tests.support.handlers",)) -> Registry:
    """The ILS catalogue plus the tests' probe job types on every queue."""
    return build_registry(imports)


@pytest.fixture
async def system(settings: Settings) -> AsyncIterator[JobSystem]:
    js = JobSystem(settings, registry=probe_registry())
    try:
        yield js
    finally:
        await js.close()


@pytest.fixture(scope="session")
def model_pool() -> Iterator[ModelPool]:
    """One AI model pool (sized as a worker's) for the session's forecasts and anomaly scans:
    each of its processes loads statsforecast and statsmodels once, seconds of CPU, not once per
    test. A test hands it in with ``system.resources.give("ai_models", model_pool)``; the tests
    of the pool itself (test_pool.py) make their own."""
    pool = ModelPool(DEFAULT_QUEUES["ai"].concurrency)
    yield pool
    asyncio.run(pool.close())


@pytest.fixture
async def records(redis_url: str, prefix: str) -> AsyncIterator[Records]:
    """What the probe handlers of ``tests.support.handlers`` wrote under this test's prefix."""
    r = Records(redis_url, prefix)
    yield r
    await r.close()


@contextlib.asynccontextmanager
async def system_on(
    redis_url: str,
    prefix: str,
    tmp_path: Path,
    db: Database,
    env: dict[str, str] | None = None,
    resources: Resources | None = None,
) -> AsyncIterator[JobSystem]:
    """A job system with the probes on ``db``, its settings tweaked by ``env``; closed after."""
    settings = make_settings(redis_url, prefix, tmp_path, env=env or {})
    js = JobSystem(settings, probe_registry(), resources=resources, database=db)
    try:
        yield js
    finally:
        await js.close()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[EmbeddedServer]:
    """An embedded server of this test's own, on a free port, for stop/restart tests."""
    server = EmbeddedServer(tmp_path / "own-redis")
    yield server
    with contextlib.suppress(Exception):
        server.stop()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop the PostgreSQL schemas kept for later tests, and the SQLite template."""
    asyncio.run(POOL.close(PG_URL))


@pytest.fixture(params=BACKENDS)
async def db(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Database]:
    """The contract suite's database: every test using it runs on SQLite and on PostgreSQL."""
    async for database in open_database(request.param, tmp_path):
        yield database


@pytest.fixture
async def db_system(settings: Settings, db: Database) -> AsyncIterator[JobSystem]:
    """The job system (with the probes) on the contract suite's database: its tests run on
    SQLite and on PostgreSQL."""
    js = JobSystem(settings, registry=probe_registry(), database=db)
    try:
        yield js
    finally:
        await js.close()
