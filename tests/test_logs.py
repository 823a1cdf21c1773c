"""Log lines written while a job runs carry its id, queue, name and company, in the text and the
JSON format; lines written outside a job carry none. Real worker, real Redis."""

from __future__ import annotations

import io
import json
import logging
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ils.bootstrap import JobSystem
from ils.errors import ConfigurationError, GiveUp
from ils.logs import check_log_format, job_log_context, log_handler
from ils.queue.context import JobContext
from ils.queue.embedded import free_port
from tests.conftest import make_settings, probe_registry
from tests.support.handlers import Probe
from tests.support.processes import IlsProcess
from tests.support.running import running

handler_log = logging.getLogger("tests.logs")


async def chatty(payload: Probe, ctx: JobContext) -> str:
    """Logs on a plain logger, in the job's task and in a thread, and through ``ctx.log``."""
    handler_log.info("sending %s", payload.tag)
    await ctx.run_sync(handler_log.info, "rendering %s in a thread", payload.tag)
    if payload.give_up:
        raise GiveUp("permanent problem")
    return "sent"


class Captured:
    """The lines one format's handler on the root logger wrote."""

    def __init__(self, fmt: str) -> None:
        self.fmt = fmt
        self.stream = io.StringIO()

    def lines(self) -> list[str]:
        return self.stream.getvalue().splitlines()

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines()]

    def line(self, text: str) -> str:
        found = [line for line in self.lines() if text in line]
        assert len(found) == 1, (text, self.lines())
        return found[0]

    def record(self, text: str) -> dict[str, Any]:
        found = [r for r in self.records() if text in r["message"]]
        assert len(found) == 1, (text, self.lines())
        return found[0]


@pytest.fixture(params=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[Captured]:
    out = Captured(request.param)
    handler = log_handler(request.param, out.stream)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield out
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def assert_job_line(out: Captured, text: str, job_id: str, company: int | None) -> None:
    if out.fmt == "json":
        record = out.record(text)
        assert record["job_id"] == job_id
        assert record["queue"] == "email"
        assert record["job_name"] == "test-probe"
        assert record["company_id"] == company
        assert {"time", "level", "logger"} <= record.keys()
    else:
        tag = f"[email test-probe job={job_id}" + (f" company={company}]" if company else "]")
        assert f"{tag} {text}" in out.line(text)


def assert_plain_line(out: Captured, text: str) -> None:
    if out.fmt == "json":
        record = out.record(text)
        assert not {"job_id", "queue", "job_name", "company_id"} & record.keys(), record
    else:
        line = out.line(text)
        assert "job=" not in line and "[" not in line, line


async def test_a_jobs_lines_carry_its_id_queue_name_and_company(
    system: JobSystem, captured: Captured
):
    system.registry.set_handler("email", "test-probe", chatty)
    job = await system.producer.enqueue("email", "test-probe", {"tag": "t1"}, company_id=4)
    async with running(system, "email"):
        view = await system.admin.wait_for_job("email", job.job_id, timeout_s=15)
    assert view.state == "completed", view
    handler_log.info("after the job")

    assert_job_line(captured, "sending t1", job.job_id, 4)
    assert_job_line(captured, "rendering t1 in a thread", job.job_id, 4)
    assert_plain_line(captured, "after the job")
    assert_plain_line(captured, "background job workers active")


async def test_the_runtimes_failure_line_from_bullmqs_callback_is_the_jobs(
    system: JobSystem, captured: Captured
):
    system.registry.set_handler("email", "test-probe", chatty)
    job = await system.producer.enqueue("email", "test-probe", {"tag": "t2", "give_up": True})
    # Leaving the block drains the worker, so BullMQ's "failed" callback has run.
    async with running(system, "email"):
        view = await system.admin.wait_for_job("email", job.job_id, timeout_s=15)
    assert view.state == "failed", view
    # System work (no company): the company is null in JSON and left out of the text tag.
    assert_job_line(captured, "sending t2", job.job_id, None)
    failed = f"job {job.job_id} email/test-probe failed (attempt 1/"
    assert_job_line(captured, failed, job.job_id, None)


async def test_an_inline_run_logs_as_its_job(tmp_path: Path, captured: Captured):
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings = make_settings(url, "offline", tmp_path, env={"ILS_QUEUE_EMAIL_FALLBACK": "inline"})
    system = JobSystem(settings, probe_registry())
    try:
        system.registry.set_handler("email", "test-probe", chatty)
        job = await system.producer.enqueue("email", "test-probe", {"tag": "t3"}, company_id=7)
    finally:
        await system.close()
    assert job.mode == "inline" and job.result == "sent"
    assert_job_line(captured, "sending t3", job.job_id, 7)
    assert_plain_line(captured, "unreachable; running email/test-probe")


async def test_an_ils_worker_with_ils_log_format_json_writes_json_lines_with_the_job(
    system: JobSystem, worker_env: dict[str, str]
):
    env = {**worker_env, "ILS_LOG_FORMAT": "json"}
    worker = IlsProcess(["worker", "--queues", "oma", "--import", "tests.support.handlers"], env)
    await worker.start()
    try:
        await worker.wait_for_line("background job workers active")
        job = await system.producer.enqueue("oma", "test-probe", {"give_up": True}, company_id=4)
        await worker.wait_for_line("failed (attempt 1/")
        worker.signal(signal.SIGTERM)
        assert await worker.wait() == 0
    finally:
        await worker.kill()
    records = [json.loads(line) for line in worker.output.splitlines() if line.strip()]
    mine = [r for r in records if r.get("job_id") == job.job_id]
    assert {r["message"] for r in mine} >= {
        "run 1 of x",  # the handler's ctx.log
        f"job {job.job_id} oma/test-probe failed (attempt 1/3): permanent problem",
    }, mine
    assert all(
        (r["queue"], r["job_name"], r["company_id"]) == ("oma", "test-probe", 4) for r in mine
    )
    started = next(r for r in records if "background job workers active" in r["message"])
    assert "job_id" not in started and started["logger"] == "ils.worker"


async def test_ils_serve_with_ils_log_format_json_writes_uvicorns_lines_as_json_too(
    worker_env: dict[str, str],
):
    env = {**worker_env, "ILS_LOG_FORMAT": "json"}
    serve = IlsProcess(["serve", "--port", str(free_port()), "--no-workers"], env)
    await serve.start()
    try:
        await serve.wait_for_line("Application startup complete")
        serve.signal(signal.SIGTERM)
        assert await serve.wait() in (0, -signal.SIGTERM)
    finally:
        await serve.kill()
    # Beside the log lines (stderr), the one banner `serve` prints on stdout.
    lines = [line for line in serve.output.splitlines() if line.strip()]
    assert [line for line in lines if not line.startswith("{")] == [
        line for line in lines if line.startswith("ILS Jobs listening on")
    ]
    records = [json.loads(line) for line in lines if line.startswith("{")]
    startup = next(r for r in records if r["message"] == "Application startup complete.")
    assert startup["logger"] == "uvicorn.error" and startup["level"] == "INFO"
    assert not any("job_id" in r or "color_message" in r for r in records)


def test_the_context_ends_with_its_block_and_keeps_an_adapters_fields(captured: Captured):
    adapter = logging.LoggerAdapter(handler_log, {"job_id": "given", "queue": "email"})
    with job_log_context("j-1", "email", "test-probe", 3):
        adapter.info("from the adapter")
    handler_log.info("after the block")
    assert_job_line(captured, "from the adapter", "given", 3)
    assert_plain_line(captured, "after the block")


def test_an_unknown_format_is_refused_with_a_suggestion():
    assert check_log_format("json") == "json"
    with pytest.raises(ConfigurationError, match=r"ILS_LOG_FORMAT.*did you mean 'json'"):
        check_log_format("jsn")
    with pytest.raises(ConfigurationError, match="one of text, json"):
        log_handler("xml")
