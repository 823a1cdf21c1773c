"""Process pools yield the CPU to the web: their processes run niced, and a render or model
process loads only what it runs (not every queue's handlers and the database layer)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys

import psutil
import pytest

from ils.jobs.ai.pool import ModelPool
from ils.jobs.pdf.pool import RenderPool
from ils.queue.pool import POOL_NICE, ProcessPool
from tests.conftest import REPO
from tests.support.pool_probes import loaded, niceness


async def test_pool_processes_run_at_a_lower_priority():
    pool = ProcessPool(1, "test")
    try:
        assert await pool.run(niceness) == min(19, os.nice(0) + POOL_NICE)
    finally:
        await pool.close()


async def test_nice_zero_keeps_the_parents_priority():
    pool = ProcessPool(1, "test", nice=0)
    try:
        assert await pool.run(niceness) == os.nice(0)
    finally:
        await pool.close()


def test_nice_out_of_range_is_refused():
    with pytest.raises(ValueError, match="nice"):
        ProcessPool(1, "test", nice=20)


async def test_a_render_process_loads_reportlab_but_no_handlers_or_database():
    renders = RenderPool(1)
    try:
        assert await renders.pool.run(loaded, "reportlab")
        assert not await renders.pool.run(loaded, "ils.jobs.pdf.handlers")
        assert not await renders.pool.run(loaded, "sqlalchemy")
        assert not await renders.pool.run(loaded, "ils.jobs.ai")
    finally:
        await renders.close()


async def test_a_model_process_loads_the_models_but_no_handlers_or_database():
    models = ModelPool(1)
    try:
        assert await models.pool.run(loaded, "statsmodels")
        assert not await models.pool.run(loaded, "ils.jobs.ai.demand")  # the declarations
        assert not await models.pool.run(loaded, "sqlalchemy")
    finally:
        await models.close()


async def test_pool_processes_exit_when_their_parent_is_killed():
    # kill -9 of a worker left its render and model processes running for good (orphans found
    # by the chaos suite: dozens after a few minutes of killed workers).
    parent = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.support.pool_parent", cwd=REPO,
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert parent.stdout is not None
        child = psutil.Process(int(await asyncio.wait_for(parent.stdout.readline(), 60)))
        parent.send_signal(signal.SIGKILL)
        await parent.wait()
        await asyncio.to_thread(child.wait, 20)  # psutil.TimeoutExpired if it lives on
    finally:
        if parent.returncode is None:
            parent.kill()
            await parent.wait()
