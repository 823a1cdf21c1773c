"""The runnable example of docs/flows.md, run: its module (the page's Python block) imported,
its job types registered, a worker on ``oma``, and its flow and batch ending as the page says."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.jobs import build_registry
from ils.queue.declare import declared_in
from tests.conftest import REPO, make_settings
from tests.support.running import running

PAGE = REPO / "docs" / "flows.md"


def example_module(tmp_path: Path) -> object:
    [code] = re.findall(r"```python\n(.*?)```", PAGE.read_text(), flags=re.S)
    path = tmp_path / "lens_scans.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location("lens_scans", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["lens_scans"] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def example(tmp_path: Path):
    module = example_module(tmp_path)
    yield module
    sys.modules.pop("lens_scans", None)


async def test_the_flows_page_example_runs_as_it_says(
    example: object, redis_url: str, prefix: str, tmp_path: Path
):
    registry = build_registry()
    for job_def in declared_in(example):  # type: ignore[arg-type]
        registry.add(job_def.job_type)
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), registry=registry)
    try:
        ids = await example.demo(system)  # type: ignore[attr-defined]
        async with running(system, "oma"):
            tree = await system.admin.wait_for_job("oma", ids["flow"], timeout_s=60)
            batch = await system.admin.wait_for_job("oma", ids["batch"], timeout_s=60)
        assert tree.state == "completed"
        assert tree.return_value["title"] == "lenses"
        assert tree.return_value["scanned"] == [1, 2, 3]
        assert batch.return_value["counts"] == {"completed": 100, "failed": 1, "pending": 0}
        progress = await system.admin.batches.get(ids["batch"])
        assert progress.done and progress.total == 101
    finally:
        await system.close()
