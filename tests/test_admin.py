"""The admin data layer and the ``ils`` command: stats, health, info, live workers, and
``ils serve`` / ``ils worker`` as a person runs them."""

from __future__ import annotations

import json
import signal
import socket
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ils.bootstrap import JobSystem
from ils.cli import app
from ils.errors import BrokerUnavailable, JobNotFound
from ils.queue.embedded import free_port
from ils.queue.settings import QUEUE_NAMES
from ils.queue.states import COUNT_STATES
from ils.settings import IlsSettings
from ils.web.factory import START_TIMEOUT_S, ServeHandoff, process_config
from tests.conftest import make_settings, probe_registry
from tests.support.processes import IlsProcess
from tests.support.running import running


async def test_stats_count_every_state_of_every_queue(system: JobSystem):
    await system.producer.enqueue("oma", "test-probe", {})
    await system.producer.queue("oma").pause()
    stats = await system.admin.stats()
    assert set(stats) == set(QUEUE_NAMES)
    for counts in stats.values():
        assert tuple(counts) == COUNT_STATES
    assert stats["oma"]["waiting"] == 1 and stats["oma"]["paused"] == 1
    assert stats["email"]["paused"] == 0


async def test_health_reports_redis_and_live_workers_per_queue(system: JobSystem):
    idle = await system.admin.health()
    assert idle["redis"] is True and idle["healthy"] is False
    assert idle["version"] and idle["memory_used_bytes"] > 0 and idle["latency_ms"] >= 0
    async with running(system, "oma", "pdf") as runtime:
        health = await system.admin.health()
        assert health["workers"] == {q: int(q in ("oma", "pdf")) for q in QUEUE_NAMES}
        assert health["healthy"] is True
        [proc] = health["worker_processes"]
        assert proc["id"] == runtime.worker_id
        assert proc["host"] == socket.gethostname()
        assert proc["queues"] == ["oma", "pdf"]
        assert proc["last_seen"] >= proc["started"]
    assert await system.admin.workers() == []  # a clean stop removes its heartbeat


async def test_info_joins_settings_counts_and_health(system: JobSystem):
    await system.producer.enqueue("pdf", "invoice", {"invoiceId": 3})
    info = await system.admin.info()
    assert info["prefix"] == system.settings.prefix
    pdf = info["queues"]["pdf"]
    assert pdf["settings"]["concurrency"] == 3 and pdf["settings"]["rate_max"] == 20
    assert pdf["counts"]["prioritized"] == 1
    assert pdf["paused"] is False
    assert info["health"]["redis"] is True


async def test_unknown_jobs_are_reported_as_such(system: JobSystem):
    with pytest.raises(JobNotFound):
        await system.admin.get_job("pdf", "nope")


async def test_health_says_redis_is_down_instead_of_failing(tmp_path: Path):
    url = f"redis://127.0.0.1:{free_port()}/0"
    system = JobSystem(make_settings(url, "down", tmp_path), probe_registry())
    try:
        health = await system.admin.health()
        assert health["redis"] is False and health["error"]
        assert health["workers"] == dict.fromkeys(QUEUE_NAMES, 0)
        with pytest.raises(BrokerUnavailable):
            await system.admin.stats()
    finally:
        await system.close()


# ---- the command line ----------------------------------------------------------------------


def cli_env(worker_env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in worker_env.items() if k.startswith(("ILS_", "REDIS_"))}


def test_queue_commands_print_tables_and_json(worker_env: dict[str, str]):
    runner = CliRunner()
    env = cli_env(worker_env)
    added = runner.invoke(app, ["queue", "add", "pdf", "invoice", '{"invoiceId": 5}'], env=env)
    assert added.exit_code == 0, added.output
    assert json.loads(added.output)["mode"] == "queued"

    stats = runner.invoke(app, ["queue", "stats", "--json"], env=env)
    assert stats.exit_code == 0, stats.output
    assert json.loads(stats.output)["pdf"]["prioritized"] == 1

    for command in ("stats", "health", "info"):
        table = runner.invoke(app, ["queue", command], env=env)
        assert table.exit_code == 0, table.output
        assert "ILS Jobs" in table.output
    health = json.loads(runner.invoke(app, ["queue", "health", "--json"], env=env).output)
    assert health["redis"] is True
    info = json.loads(runner.invoke(app, ["queue", "info", "--json"], env=env).output)
    assert set(info["queues"]) == set(QUEUE_NAMES)


def test_bad_input_on_the_command_line_is_a_clear_error(worker_env: dict[str, str]):
    runner = CliRunner()
    env = cli_env(worker_env)
    bad = runner.invoke(app, ["queue", "add", "pdf", "invoice", '{"invoiceId": "x"}'], env=env)
    assert bad.exit_code == 1 and "invoice_id" in bad.output
    bad = runner.invoke(app, ["queue", "add", "pdf", "invoice", "{nope"], env=env)
    assert bad.exit_code == 2 and "not JSON" in bad.output
    bad = runner.invoke(app, ["worker", "--queues", "emial"], env=env)
    assert bad.exit_code != 0 and "did you mean 'email'" in bad.output
    bad = runner.invoke(app, ["queue", "stats"], env=env | {"ILS_QUEUE_PDF_CONCURENCY": "2"})
    assert bad.exit_code == 2 and "did you mean ILS_QUEUE_PDF_CONCURRENCY" in bad.output
    assert "Traceback" not in bad.output


@pytest.mark.parametrize(
    "job_id", ["../../etc/passwd", "a/b", "a\\b", "..", "x..y", "has:colon", "x" * 41]
)
def test_queue_add_refuses_a_job_id_that_could_name_a_path(worker_env: dict[str, str], job_id: str):
    env = cli_env(worker_env)
    args = ["queue", "add", "pdf", "invoice", '{"invoiceId": 5}', "--job-id", job_id]
    result = CliRunner().invoke(app, args, env=env)
    assert result.exit_code != 0
    assert "--job-id" in result.output
    assert "Traceback" not in result.output
    stats = json.loads(CliRunner().invoke(app, ["queue", "stats", "--json"], env=env).output)
    assert sum(stats["pdf"].values()) == 0  # nothing enqueued


def test_queue_add_keeps_an_ordinary_job_id(worker_env: dict[str, str]):
    args = ["queue", "add", "pdf", "invoice", '{"invoiceId": 5}', "--job-id", "inv-5.v2_x"]
    result = CliRunner().invoke(app, args, env=cli_env(worker_env))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["id"] == "inv-5.v2_x"


def test_health_command_exits_non_zero_when_redis_is_down(worker_env: dict[str, str]):
    env = cli_env(worker_env) | {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    result = CliRunner().invoke(app, ["queue", "health"], env=env)
    assert result.exit_code == 1
    assert "False" in result.output


async def get_json(url: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=5) as client:
        resp = await client.get(url)
        resp.raise_for_status()
        return dict(resp.json())


async def test_serve_answers_runs_the_workers_and_stops_cleanly(
    system: JobSystem, worker_env: dict[str, str]
):
    port = free_port()
    serve = await IlsProcess(["serve", "--port", str(port)], worker_env).start()
    try:
        line = await serve.wait_for_line("listening on")
        assert f"http://127.0.0.1:{port}" in line
        await serve.wait_for_line("background job workers active")
        for queue in QUEUE_NAMES:
            await serve.wait_for_line(f"- {queue} worker:")
        assert (await get_json(f"http://127.0.0.1:{port}/readyz"))["redis"] is True
        health = await system.admin.health()
        assert health["workers"] == dict.fromkeys(QUEUE_NAMES, 1)
        serve.signal(signal.SIGTERM)
        # uvicorn shuts down gracefully, then exits by the signal it caught (its convention)
        assert await serve.wait() in (0, -signal.SIGTERM)
        assert "workers stopped" in serve.output
    finally:
        await serve.kill()


async def test_serve_without_workers_runs_none(system: JobSystem, worker_env: dict[str, str]):
    port = free_port()
    serve = await IlsProcess(["serve", "--port", str(port), "--no-workers"], worker_env).start()
    try:
        await serve.wait_for_line("workers not started here")
        await serve.wait_for_line("Uvicorn running")
        assert (await get_json(f"http://127.0.0.1:{port}/healthz"))["status"] == "ok"
        assert await system.admin.workers() == []
        serve.signal(signal.SIGINT)
        assert await serve.wait() in (0, 130, -signal.SIGINT)  # 130: the shell convention
        assert "Application shutdown complete" in serve.output
    finally:
        await serve.kill()


async def test_serve_with_several_processes_answers_from_each(worker_env: dict[str, str]):
    port = free_port()
    args = ["serve", "--port", str(port), "--processes", "2", "--no-workers"]
    serve = await IlsProcess(args, worker_env).start()
    try:
        await serve.wait_for_line("listening on")
        await serve.wait_for_line("Application startup complete")
        await serve.wait_for_line("Application startup complete")  # the second process
        assert (await get_json(f"http://127.0.0.1:{port}/healthz"))["status"] == "ok"
        serve.signal(signal.SIGTERM)
        assert await serve.wait() in (0, -signal.SIGTERM)
        assert serve.output.count("Application shutdown complete") == 2
    finally:
        await serve.kill()


def test_web_processes_get_a_minute_to_start(settings: IlsSettings):
    """uvicorn's supervisor kills a process that has not answered its first health check in
    time; at its 5 s default, on a loaded host, it killed every new process in a loop."""
    config = process_config(ServeHandoff.of(settings, False, ()), "127.0.0.1", free_port(), 2)
    assert config.timeout_worker_healthcheck == START_TIMEOUT_S == 60


def test_serve_with_a_bad_web_setting_says_so_in_one_line(worker_env: dict[str, str]):
    env = cli_env(worker_env) | {"ILS_SECRET_KEY": "too short"}
    result = CliRunner().invoke(app, ["serve", "--port", str(free_port())], env=env)
    assert result.exit_code == 2, result.output
    assert "ILS_SECRET_KEY" in result.output
    assert "Traceback" not in result.output
