"""The docs' examples run on the test's Redis prefix and a migrated database:
``docs/examples/failures.py`` (dead letters, replay, cancellation; docs/failures.md quotes it as
it is) and ``docs/examples/first_job.py`` (a job type from scratch, enqueued directly and through
the outbox; the concepts guide includes it)."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import JobNotFound
from ils.queue.tenancy import ViewerScope
from tests.conftest import REPO, make_settings, probe_registry
from tests.support.running import running

EXAMPLE = REPO / "docs" / "examples" / "failures.py"
PAGE = REPO / "docs" / "failures.md"


async def test_the_failures_example_runs_as_the_page_says(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
):
    from docs.examples import failures

    registry = probe_registry(("docs.examples.failures",))
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), registry, database=db)
    try:
        seen = await failures.main(system)
    finally:
        await system.close()
    assert seen == {
        "dead_letter": {"reason": "card declined twice for 4200 cents", "attempts": 2},
        "replays": [seen["replays"][0], seen["replays"][0], False],
        "cancel": ["cancelling", "cancelled", seen["cancel"][2]],
        "not_yet_running": "removed",
    }
    assert seen["replays"][0].startswith("dlq-")
    assert seen["cancel"][2].startswith("cancelled at step ")


def test_the_page_quotes_the_example_whole():
    assert EXAMPLE.read_text() in PAGE.read_text()


async def test_the_first_job_example_runs_as_the_guide_says(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
):
    from docs.examples import first_job

    registry = probe_registry(("docs.examples.first_job",))
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), registry, database=db)
    try:
        seen = await first_job.main(system)
    finally:
        await system.close()
    assert seen == {
        "direct": ["queued", "completed", 2, "A-1001 R"],
        "outbox": ["outbox", "completed", "A-1002 L"],
        "rolled_back": "never enqueued",
        "refused": ["eye"],
    }


NODE_EXAMPLES = REPO / "docs" / "examples" / "node"
NODE = shutil.which("node")
NODE_MISSING = NODE is None or not (NODE_EXAMPLES / "node_modules" / "bullmq").is_dir()


async def test_the_node_example_enqueues_a_job_the_python_worker_runs(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
):
    if NODE_MISSING:
        message = "Node or the examples' bullmq package is missing: run `make node-deps`"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    assert NODE is not None
    args = json.dumps({"url": redis_url, "prefix": prefix, "company": 7})
    proc = await asyncio.create_subprocess_exec(
        NODE, str(NODE_EXAMPLES / "enqueue.mjs"), args, cwd=NODE_EXAMPLES,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    out, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    job_id = json.loads(out)["jobId"]

    registry = probe_registry(("docs.examples.first_job",))
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), registry, database=db)
    try:
        async with running(system, "oma"):
            done = await system.admin.wait_for_job("oma", job_id, timeout_s=30)
        mine = await system.admin.get_job("oma", job_id, ViewerScope(company_id=7))
        with pytest.raises(JobNotFound):
            await system.admin.get_job("oma", job_id, ViewerScope(company_id=8))
    finally:
        await system.close()
    assert (done.state, done.attempts_made, done.return_value) == ("completed", 2, "N-2001 L")
    assert mine.data == {"orderNumber": "N-2001", "eye": "L"}


def test_the_examples_page_includes_the_node_example():
    page = (REPO / "docs" / "examples.md").read_text()
    assert '--8<-- "examples/node/enqueue.mjs"' in page


async def test_the_domain_events_example_runs_as_the_guide_says(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
):
    from docs.examples import domain_events

    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    try:
        seen = await domain_events.main(system)
    finally:
        await system.close()
    assert seen == {
        "seen": [("41", "12.50")],
        "delivered": [1, 0],
        "refused": ["new_price", "old_price"],
    }


async def test_the_workers_and_retention_example_runs_as_the_guide_says(
    redis_url: str, prefix: str, tmp_path: Path
):
    from docs.examples import workers_retention

    env = {"REDIS_URL": redis_url, "ILS_REDIS_PREFIX": prefix, "ILS_VAR_DIR": str(tmp_path),
           "ILS_HEARTBEAT_INTERVAL_S": "1"}  # fmt: skip
    system = JobSystem(workers_retention.settings(env))
    try:
        seen = await workers_retention.main(system)
    finally:
        await system.close()
    assert seen == {"workers": [1, 0], "completed": 3, "kept": [3, 4, 5]}


def test_every_concept_of_the_guide_has_an_example_the_suite_runs():
    """The concepts page's table: each example exists and the test it names runs it."""
    page = (REPO / "docs" / "guide" / "concepts.md").read_text()
    rows = [line.split(" | ") for line in page.splitlines()
            if line.startswith("| ") and not line.startswith("| concept |")]  # fmt: skip
    concepts = {c.strip() for row in rows for c in row[0].strip("| ").split(",")}
    assert concepts >= {"queues", "job types", "helpers", "the outbox", "retries", "workers",
                        "retention", "schedules", "flows", "batches", "dead letters",
                        "events"}  # fmt: skip
    for row in rows:
        test = (REPO / row[2].strip(" |`")).read_text()
        if "docs/examples/" in row[1]:
            module = row[1].split("`docs/examples/")[1].split(".py`")[0]
            assert (REPO / "docs" / "examples" / f"{module}.py").is_file()
            assert f"from docs.examples import {module}" in test, module
        else:
            page_name = row[1].split("](../")[1].split("#")[0]
            assert f'"{page_name}"' in test, page_name
