"""Job types declared once (``@job``): a new type is one module plus its name in the imports,
enqueued from Python (typed helper) and from Node (raw BullMQ), run by a worker, listed by
``ils queue info`` and in the docs table; the docs page is generated; resources are lazy."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aredis
from bullmq import Queue
from typer.testing import CliRunner

from ils.bootstrap import JobSystem
from ils.cli import app
from ils.errors import ConfigurationError, InvalidJobPayload, JobTimedOut
from ils.files import LocalFileStorage
from ils.jobs import build_registry
from ils.jobs.reference import render
from ils.jobs.resources import Resources
from ils.queue.context import JobContext
from ils.queue.declare import job
from ils.queue.executor import Executor, validate_payload
from ils.queue.payload_example import example_data
from ils.queue.reference import anchor
from ils.queue.registry import JobType, Payload, Registry
from ils.queue.settings import QUEUE_NAMES, Settings
from tests.conftest import REPO
from tests.support.lens_label import LensLabel, lens_label
from tests.support.running import running

LABEL_MODULE = "tests.support.lens_label"


@pytest.fixture
async def label_system(settings: Settings) -> Any:
    system = JobSystem(settings, build_registry([LABEL_MODULE]))
    try:
        yield system
    finally:
        await system.close()


async def test_a_new_job_type_is_enqueued_from_python_and_node_and_run_by_a_worker(
    label_system: JobSystem, redis_url: str
):
    system = label_system
    assert system.registry.get("oma", "lens-label") is lens_label.job_type
    # Python: the typed helper derived from the declaration.
    ours = await lens_label.helper.using(producer=system.producer)(order_number="ORD-1", eye="R")
    with pytest.raises(InvalidJobPayload) as bad:
        await lens_label.helper.using(producer=system.producer)(order_number="ORD-1", eye="X")  # type: ignore[arg-type]
    assert bad.value.fields == ["eye"]
    # Node: what a Node BullMQ producer writes (queue name, job name, camelCase JSON).
    client = aredis.from_url(redis_url, decode_responses=True)
    try:
        node_queue = Queue("oma", {"connection": client, "prefix": system.settings.prefix})
        theirs = await node_queue.add(
            "lens-label", {"orderNumber": "ORD-2", "eye": "L", "copies": 2}, {"attempts": 2}
        )
    finally:
        await client.aclose()
    async with running(system, "oma"):
        first = await system.admin.wait_for_job("oma", ours.job_id, timeout_s=30)
        second = await system.admin.wait_for_job("oma", str(theirs.id), timeout_s=30)
    assert (first.state, second.state) == ("completed", "completed"), second.failed_reason
    prefix = system.settings.prefix
    assert first.return_value == {"label": "ORD-1-R", "copies": 1, "prefix": prefix}
    assert second.return_value == {"label": "ORD-2-L", "copies": 2, "prefix": prefix}
    assert first.data == {"orderNumber": "ORD-1", "eye": "R", "copies": 1}


def test_a_new_job_type_shows_in_queue_info_and_in_the_docs_table(worker_env: dict[str, str]):
    env = {k: v for k, v in worker_env.items() if k.startswith(("ILS_", "REDIS_"))}
    env["ILS_IMPORTS"] = LABEL_MODULE
    runner = CliRunner()
    table = runner.invoke(app, ["queue", "info"], env=env)
    assert table.exit_code == 0, table.output
    assert "ILS Jobs: job types" in table.output
    assert any("lens-label" in line and "oma" in line for line in table.output.splitlines())
    info = json.loads(runner.invoke(app, ["queue", "info", "--json"], env=env).output)
    (label,) = [t for t in info["job_types"] if t["name"] == "lens-label"]
    assert (label["queue"], label["priority"], label["attempts"]) == ("oma", 3, 2)
    assert label["schema"] == LensLabel.model_json_schema(by_alias=True)
    assert set(label["schema"]["properties"]) == {"orderNumber", "eye", "copies"}
    assert label["schema"]["required"] == ["orderNumber", "eye"]
    assert len(info["job_types"]) == 35  # the 34 of ILS and this one
    page = render(build_registry([LABEL_MODULE]))
    row = ("| oma | [`lens-label`](#oma-lens-label) | label of one lens of an order | 3 | 2 "
           "| `orderNumber*`, `eye*`, `copies` | producer | - |")  # fmt: skip
    assert row in page.splitlines()


def test_the_committed_docs_page_is_generated_from_the_declarations():
    committed = (REPO / "docs" / "jobs.md").read_text()
    assert committed == render(build_registry()), "docs/jobs.md is stale: run `ils queue docs"
    " --output docs/jobs.md`"
    assert "| email | [`order-confirmation`](#email-order-confirmation) |" in committed
    assert "`queue_order_confirmation_email`" in committed
    assert "async def queue_order_confirmation_email(*, order_id: int, user_id: int)" in committed


def test_every_example_of_the_docs_page_is_data_a_worker_accepts():
    """Each type has its section, and its Node example (the smallest valid data, or the payload
    model's own example) validates against the job type."""
    page = (REPO / "docs" / "jobs.md").read_text()
    for job_type in build_registry():
        assert f"### {job_type.key} {{#{anchor(job_type)}}}" in page
        validate_payload(job_type, example_data(job_type.schema()))
    oma = build_registry().get("oma", "process-oma-file")
    assert example_data(oma.schema()) == {"companyId": 1, "path": "incoming/N-2001.oma"}


def test_each_job_type_has_the_json_schema_of_its_payload():
    registry = build_registry()
    schema = registry.get("email", "order-shipment").schema()
    assert schema["required"] == ["orderId", "userId", "trackingNumber"]
    assert schema["properties"]["orderId"]["exclusiveMinimum"] == 0


# ---- resources: declared, typed, built lazily ----------------------------------------------


async def test_resources_are_built_when_a_worker_of_their_queues_starts(settings: Settings):
    system = JobSystem(settings)
    try:
        assert system.resources.built() == ()  # nothing built for a process that only enqueues
        system.runtime(("notification",))
        # the webhook sender is built without its HTTP client (made at the first delivery)
        assert set(system.resources.built()) == {"notifier", "webhooks"}
        system.runtime(("pdf",))
        # the render pool (reportlab) is built by the first PDF job; its settings are checked
        assert set(system.resources.built()) == {"notifier", "webhooks", "files"}
        system.runtime(("email",))  # the mailer too (templates, SMTP, its log in the database)
        assert set(system.resources.built()) == {"notifier", "webhooks", "files"}
        _ = system.resources.pdf_renderer
        assert "pdf_renderer" in system.resources.built()
    finally:
        await system.close()
    assert system.resources.built() == ()  # closed: what was built, and only that


async def test_a_resource_the_job_type_did_not_declare_is_a_clear_error(settings: Settings):
    system = JobSystem(settings)
    try:
        view = system.resources.scoped(frozenset({"db", "notifier"}))
        assert view.db is system.database
        with pytest.raises(ConfigurationError, match="'mailer' is not declared"):
            _ = view.mailer
        assert system.resources.built() == ()
    finally:
        await system.close()


def test_an_unknown_resource_in_a_declaration_fails_at_start_up(settings: Settings):
    registry = Registry(QUEUE_NAMES)
    registry.add(JobType("oma", "typo", LensLabel, resources=frozenset({"mailr"})))
    with pytest.raises(ConfigurationError, match="did you mean 'mailer'"):
        JobSystem(settings, registry)


async def test_a_resource_handed_in_is_used_and_not_built_again(settings: Settings, tmp_path: Path):
    files = LocalFileStorage(tmp_path / "own-files")  # the caller's
    system = JobSystem(settings, resources=Resources(files=files))
    try:
        system.runtime(("pdf",))
        assert system.resources.files is files
        assert "files" not in system.resources.built()
    finally:
        await system.close()


def test_a_worker_imports_only_what_its_queues_use(worker_env: dict[str, str]):
    code = (
        "import sys\n"
        "from ils.bootstrap import JobSystem\n"
        "from ils.settings import load_settings\n"
        "system = JobSystem(load_settings())\n"
        "system.runtime(('notification',))\n"
        "heavy = ['reportlab', 'jinja2', 'httpx', 'aiosmtplib', 'statsmodels', 'alembic']\n"
        "print(','.join(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], env=worker_env, cwd=REPO,
                         capture_output=True, text=True, timeout=120, check=True)  # fmt: skip
    assert out.stdout.strip() == "", out.stdout


async def test_a_declared_timeout_ends_a_run_that_takes_longer():
    class Nothing(Payload):
        pass

    release = asyncio.Event()  # never set: the handler waits until the timeout ends it

    @job(Nothing, queue="oma", name="stuck", description="waits", timeout_s=0.2)
    async def stuck(payload: Nothing, ctx: Any) -> None:
        await release.wait()

    registry = Registry(QUEUE_NAMES)
    registry.add(stuck.job_type)
    ctx: JobContext[None] = JobContext("j1", "oma", "stuck", 1, 1, None)  # type: ignore[arg-type]
    with pytest.raises(JobTimedOut, match=r"longer than 0\.2 s"):
        await Executor(registry).execute("oma", "stuck", {}, ctx)


def test_helpers_take_only_keywords_and_a_preset_field_cannot_be_passed_again():
    from ils.jobs import helpers

    with pytest.raises(TypeError, match="sets audience itself"):
        asyncio.run(helpers.notify_company_admins(company_id=1, audience="role", title="t",
                                                  message="m"))  # fmt: skip
