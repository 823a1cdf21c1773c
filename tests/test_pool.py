"""Process pools yield the CPU to the web: their processes run niced, and a render or model
process loads only what it runs (not every queue's handlers and the database layer)."""

from __future__ import annotations

import os

import pytest

from ils.jobs.ai.pool import ModelPool
from ils.jobs.pdf.pool import RenderPool
from ils.queue.pool import POOL_NICE, ProcessPool
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
