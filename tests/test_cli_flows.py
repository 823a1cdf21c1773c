"""``ils batch show`` and ``ils flow show`` on a real Redis: tables and JSON, and a missing batch
or job a clear error."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from ils.bootstrap import JobSystem
from ils.cli import app
from ils.queue.flows import send_batch, send_flow
from tests.conftest import make_settings, probe_registry
from tests.test_admin import cli_env
from tests.test_flows import PARENT, PROBE


async def _flow_and_batch(redis_url: str, prefix: str, tmp_path: Path) -> tuple[str, str]:
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), probe_registry())
    try:
        root = PARENT.step(tag="p").after(PROBE.step(tag="c"), on_child_failure="skip")
        flow = await send_flow(root, producer=system.producer)
        jobs = [PROBE.step(tag="a"), PROBE.step(tag="b")]
        batch = await send_batch(PARENT.step(tag="batch"), jobs, producer=system.producer)
        return flow.job_id, batch.job_id
    finally:
        await system.close()


def test_batch_and_flow_show_print_tables_and_json(
    worker_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
):
    flow_id, batch_id = asyncio.run(_flow_and_batch(redis_url, prefix, tmp_path))
    runner, env = CliRunner(), cli_env(worker_env)

    shown = runner.invoke(app, ["batch", "show", batch_id, "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    batch = json.loads(shown.output)
    assert (batch["total"], batch["counts"]["pending"], batch["done"]) == (2, 2, False)
    table = runner.invoke(app, ["batch", "show", batch_id], env=env)
    assert table.exit_code == 0, table.output
    assert f"batch {batch_id}: 2 jobs, running" in table.output

    shown = runner.invoke(app, ["flow", "show", "oma", f"{flow_id}-0", "--json"], env=env)
    assert shown.exit_code == 0, shown.output
    tree = json.loads(shown.output)
    assert (tree["id"], tree["on_child_failure"]) == (flow_id, "skip")
    assert [c["id"] for c in tree["children"]] == [f"{flow_id}-0"]
    table = runner.invoke(app, ["flow", "show", "oma", flow_id], env=env)
    assert table.exit_code == 0, table.output
    assert f"oma/test-parent {flow_id}: waiting-children" in table.output
    assert f"oma/test-probe {flow_id}-0: waiting" in table.output

    missing = runner.invoke(app, ["batch", "show", "nope"], env=env)
    assert missing.exit_code == 1 and "no batch nope" in missing.output
    missing = runner.invoke(app, ["flow", "show", "oma", "nope"], env=env)
    assert missing.exit_code == 1 and "no job nope" in missing.output


def test_queue_cancel_of_a_flows_parent_lists_its_children_cancelled_with_it(
    worker_env: dict[str, str], redis_url: str, prefix: str, tmp_path: Path
):
    flow_id, _ = asyncio.run(_flow_and_batch(redis_url, prefix, tmp_path))
    runner, env = CliRunner(), cli_env(worker_env)
    done = runner.invoke(app, ["queue", "cancel", "oma", flow_id], env=env)
    assert done.exit_code == 0, done.output
    answer = json.loads(done.output)
    assert (answer["id"], answer["outcome"]) == (flow_id, "cancelling")
    assert (answer["removed"], answer["marked"]) == ([f"oma/{flow_id}-0"], [f"oma/{flow_id}"])
    assert answer["stopping"] == [] and answer["left_alone"] == 0
