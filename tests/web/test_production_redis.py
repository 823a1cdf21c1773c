"""Production Redis as docs/production-redis.md sets it up: a password, one least-privileged ACL
user per role, TLS. A producer, a worker (in-process and an ``ils worker`` process), the web app's
admin stats and ``/metrics`` and the CLI run through those users on a redis-server of the test's
own, and the server denies nothing.
"""

from __future__ import annotations

import json
import re
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import Role
from ils.errors import ConfigurationError
from ils.queue import acl
from ils.queue.producer import EnqueueOptions
from ils.settings import load_web_settings
from ils.settings_sources import redis_url_from_env
from ils.web.settings import WebSettings
from tests.conftest import make_settings, probe_registry
from tests.support.acl_server import USERS, AclServer, TlsUnsupported, acl_server
from tests.support.databases import open_database
from tests.support.processes import IlsProcess
from tests.support.running import running
from tests.web.conftest import Accounts, csrf_headers, logged_in, make_client, serve

REPO = Path(__file__).resolve().parents[2]
BULLMQ_COMMANDS = Path(__import__("bullmq").__file__).parent / "commands"
PREFIX = "prod"


@pytest.fixture(params=["plain", "tls"])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[AclServer]:
    tls = request.param == "tls"
    try:
        with acl_server(tmp_path / "redis", PREFIX, tls=tls) as running_server:
            yield running_server
    except TlsUnsupported as exc:
        # Only a build without TLS skips, under CI too: there is nothing to test then.
        pytest.skip(f"this redis-server has no TLS: {exc}")


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    async for database in open_database("sqlite", tmp_path):
        yield database


def _denied(admin: redis.Redis) -> list[str]:
    return [f"{e['username']}: {e['object']} ({e['reason']})" for e in admin.acl_log()]


async def test_worker_producer_and_web_run_through_their_least_privileged_users(
    server: AclServer, tmp_path: Path, db: Database, accounts: Accounts
):
    web = JobSystem(
        make_settings(server.url("web"), PREFIX, tmp_path / "web"), probe_registry(), database=db
    )
    worker = JobSystem(
        make_settings(server.url("worker"), PREFIX, tmp_path / "worker"),
        probe_registry(),
        database=db,
    )
    once = EnqueueOptions(attempts=1)
    try:
        async for app in serve(web, web_settings_for(tmp_path)):
            ids = [(await web.producer.enqueue("oma", "test-probe", {}, once)).job_id
                   for _ in range(3)]  # fmt: skip
            failing = await web.producer.enqueue("oma", "test-probe", {"giveUp": True}, once)
            later = await web.producer.enqueue("oma", "test-probe", {}, EnqueueOptions(delay_s=60))
            async with running(worker, "oma"):
                for job_id in [*ids, failing.job_id]:
                    await web.admin.wait_for_job("oma", job_id, timeout_s=30)
                health = await web.admin.health()
            await web.admin.actions.promote("oma", later.job_id)
            info = await web.admin.info()
            async with make_client(app) as client:
                scrape = await client.get("/metrics")
            async with logged_in(app, Role.company_admin) as member:  # company-scoped reads
                own = await member.get("/api/queue/oma/jobs?state=completed")
            async with logged_in(app, Role.platform_admin) as operator:  # the login limiter too
                stats = (await operator.get("/api/queue/stats")).json()
                retried = await operator.post(  # counted in the bulk quota's window
                    "/api/queue/oma/retry-failed", headers=csrf_headers(operator)
                )
    finally:
        await web.close()
        await worker.close()
    assert health["redis"] and health["workers"]["oma"] == 1
    assert info["queues"]["oma"]["counts"]["completed"] == 3
    assert info["queues"]["oma"]["counts"]["failed"] == 1
    assert own.status_code == 200 and own.json()["total"] == 0  # the jobs are the platform's
    assert stats["oma"]["completed"] == 3
    assert retried.status_code == 200 and retried.json()["count"] == 1, retried.text
    assert scrape.status_code == 200
    got = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(scrape.text)
        for s in family.samples
    }
    assert got[("ils_redis_up", ())] == 1
    assert got[("ils_jobs", (("queue", "oma"), ("state", "completed")))] == 3
    admin = server.admin()
    try:
        assert _denied(admin) == []
    finally:
        admin.close()


def redis_env(server: AclServer, role: acl.Role) -> dict[str, str]:
    """The plain server in the seed's parts (with ``REDIS_USERNAME``), the TLS one as a
    ``rediss://`` URL naming its private CA."""
    if server.ca_file is not None:
        return {"REDIS_URL": server.url(role)}
    return {
        "REDIS_HOST": "localhost",
        "REDIS_PORT": str(server.port),
        "REDIS_USERNAME": USERS[role],
        "REDIS_PASSWORD": server.passwords[role],
    }


async def test_an_ils_worker_process_and_the_cli_connect_as_their_users(
    server: AclServer, worker_env: dict[str, str], tmp_path: Path, db: Database
):
    base = {k: v for k, v in worker_env.items() if not k.startswith("REDIS_")}
    base["ILS_REDIS_PREFIX"] = PREFIX
    web = JobSystem(
        make_settings(server.url("web"), PREFIX, tmp_path / "web"), probe_registry(), database=db
    )
    args = ["worker", "--queues", "oma", "--import", "tests.support.handlers"]
    worker = await IlsProcess(args, base | redis_env(server, "worker")).start()
    try:
        await worker.wait_for_line("background job workers active")
        job = await web.producer.enqueue("oma", "test-probe", {}, EnqueueOptions(attempts=1))
        await web.admin.wait_for_job("oma", job.job_id, timeout_s=30)
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0
    finally:
        await worker.kill()
        await web.close()
    assert server.passwords["worker"] not in worker.output
    stats = await IlsProcess(["queue", "stats", "--json"], base | redis_env(server, "web")).start()
    assert await stats.wait() == 0, stats.output
    assert json.loads(stats.output)["oma"]["completed"] == 1
    admin = server.admin()
    try:
        assert _denied(admin) == []
    finally:
        admin.close()


def test_each_user_is_kept_to_its_prefix_and_commands(server: AclServer):
    for role in USERS:
        client = redis.Redis.from_url(server.url(role), decode_responses=True)
        try:
            client.set(f"{PREFIX}:probe", "1")
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.set("elsewhere:probe", "1")
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.config_get("dir")
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.flushall()
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.keys("*")
            with pytest.raises(redis.exceptions.NoPermissionError):
                client.eval("return 1", 0)
        finally:
            client.close()
    admin = server.admin()
    try:
        users = {line.split()[1]: line for line in admin.acl_list()}
        assert set(USERS.values()) <= set(users)
        # The connections above were the users themselves, over TLS when the server has it.
        assert server.ca_file is None or admin.config_get("port")["port"] == "0"
    finally:
        admin.close()


def test_every_command_of_bullmqs_scripts_is_granted():
    called: set[str] = set()
    for script in BULLMQ_COMMANDS.glob("*.lua"):
        text = script.read_text()
        called |= {m.lower() for m in re.findall(r"rcall\(\s*[\"']([A-Za-z]+)[\"']", text)}
        called |= {m.lower() for m in re.findall(r"(?:Command|Cmd)\s*=\s*[\"']([A-Z]+)[\"']", text)}
        called |= {m.lower() for m in re.findall(r"and [\"']([A-Z]+)[\"'] or [\"']([A-Z]+)", text)
                   for m in m}  # fmt: skip
    assert called, "BullMQ's scripts not found"
    assert called - acl.BULLMQ_SCRIPT_COMMANDS == set()


def test_every_command_of_ils_own_scripts_is_granted():
    called: set[str] = set()
    for module in (REPO / "src" / "ils").rglob("*.py"):
        found = re.findall(r"redis\.p?call\(\s*[\"']([A-Za-z]+)[\"']", module.read_text())
        called |= {name.lower() for name in found}
    assert called, "ILS's Lua scripts not found"
    assert called - acl.ILS_COMMANDS - acl.BULLMQ_SCRIPT_COMMANDS == set()


def test_the_docs_show_the_rules_the_code_makes():
    doc = (REPO / "docs" / "production-redis.md").read_text()
    for role in acl.ROLES:
        assert f"user ils-{role} on #<sha256 of its password> {acl.rules(role, 'bull')}" in doc


def test_username_and_password_come_from_the_environment_too():
    env = {"REDIS_HOST": "redis.internal", "REDIS_USERNAME": "ils-web", "REDIS_PASSWORD": "p/w"}
    assert redis_url_from_env(env) == "redis://ils-web:p%2Fw@redis.internal:6379/0"
    assert redis_url_from_env({**env, "REDIS_TLS": "true"}).startswith("rediss://ils-web:")
    assert redis_url_from_env({**env, "REDIS_TLS": "off"}).startswith("redis://ils-web:")
    with pytest.raises(ConfigurationError, match="REDIS_TLS"):
        redis_url_from_env({**env, "REDIS_TLS": "sometimes"})


def web_settings_for(tmp_path: Path) -> WebSettings:
    return load_web_settings({}, tmp_path / "web" / "var")
