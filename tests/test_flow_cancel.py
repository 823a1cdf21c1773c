"""Cancelling a flow's parent or a batch's callback on a real Redis with a worker: its pending
children go with it (waiting and delayed ones removed, an active one stopped, a waiting parent
below it marked), to any depth; the parent ends cancelled without running, no child runs
afterwards, and another company cannot cancel it."""

from __future__ import annotations

from typing import Any

import pytest
from bullmq import Job

from ils.bootstrap import JobSystem
from ils.errors import JobNotFound
from ils.queue.declare import JobDef
from ils.queue.flows import send_batch, send_flow
from ils.queue.producer import EnqueueOptions
from ils.queue.tenancy import COMPANY_FIELD, ViewerScope
from tests.support.handlers import PARENT_PROBES, PROBES
from tests.support.running import Records, running

LATER = EnqueueOptions(delay_s=3600)
PENDING = ("waiting", "active", "delayed", "prioritized")
MINE, THEIRS = ViewerScope(company_id=5), ViewerScope(company_id=6)


def on(defs: tuple[JobDef[Any, Any], ...], queue: str = "oma") -> JobDef[Any, Any]:
    return next(d for d in defs if d.job_type.queue == queue)


PROBE, PARENT = on(PROBES), on(PARENT_PROBES)


async def test_cancelling_a_parent_cancels_its_active_and_pending_children_to_any_depth(
    system: JobSystem, records: Records
):
    root = PARENT.step(tag="root").after(
        PROBE.step(tag="active", until_cancelled=True),
        PROBE.step(tag="delayed").using(LATER),
        PARENT.step(tag="middle").after(PROBE.step(tag="leaf").using(LATER)),
        on(PROBES, "pdf").step(tag="waiting"),  # no worker takes the pdf queue here
    )
    sent = await send_flow(root, company_id=5, producer=system.producer)
    r = sent.job_id
    admin = system.admin
    async with running(system, "oma"):
        assert await records.wait_started(20) == f"{r}-0"
        with pytest.raises(JobNotFound):
            await admin.actions.cancel("oma", r, THEIRS)
        assert (await admin.get_job("oma", f"{r}-0", MINE)).state == "active"
        done = await admin.actions.cancel("oma", r, MINE)
        assert done.outcome == "cancelling"
        assert done.stopping == [f"oma/{r}-0"]
        assert sorted(done.removed) == [f"oma/{r}-1", f"oma/{r}-2-0", f"pdf/{r}-3"]
        assert done.marked == [f"oma/{r}", f"oma/{r}-2"]
        assert done.left_alone == 0
        view = await admin.wait_for_job("oma", r, timeout_s=30)
        middle = await admin.wait_for_job("oma", f"{r}-2", timeout_s=30)
    assert view.state == "cancelled" and middle.state == "cancelled"
    assert view.return_value["_ilsCancelled"]["reason"] == "cancelled with its flow by an admin"
    assert (await admin.get_job("oma", f"{r}-0")).state == "cancelled"
    for queue, job_id in (("oma", f"{r}-1"), ("oma", f"{r}-2-0"), ("pdf", f"{r}-3")):
        with pytest.raises(JobNotFound):
            await admin.get_job(queue, job_id)
    # Nothing of the flow is left to run: no queue holds a job of it that has not ended.
    for queue in ("oma", "pdf"):
        counts = await admin.counts(queue, MINE)
        assert {s: counts[s] for s in PENDING} == dict.fromkeys(PENDING, 0), queue
    assert await records.runs("oma", f"{r}-0") == 1
    for queue, job_id in (("oma", r), ("oma", f"{r}-1"), ("oma", f"{r}-2"), ("oma", f"{r}-2-0"),
                          ("pdf", f"{r}-3")):  # fmt: skip
        assert await records.runs(queue, job_id) == 0, job_id
    with pytest.raises(Exception, match="has ended"):
        await admin.actions.cancel("oma", r, MINE)


async def test_cancelling_a_batch_callback_removes_its_waiting_jobs_and_it_ends_cancelled(
    system: JobSystem, records: Records
):
    sent = await send_batch(
        PARENT.step(tag="batch"), [PROBE.step(tag=f"j{i}") for i in range(5)],
        company_id=5, producer=system.producer,
    )  # fmt: skip
    b = sent.job_id
    with pytest.raises(JobNotFound):
        await system.admin.actions.cancel("oma", b, THEIRS)
    done = await system.admin.actions.cancel("oma", b, MINE)
    assert done.outcome == "cancelling" and done.marked == [f"oma/{b}"]
    assert sorted(done.removed) == sorted(f"oma/{b}-{i}" for i in range(5))
    assert (await system.admin.batches.get(b, MINE)).counts.get("waiting", 0) == 0
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", b, timeout_s=30)
    assert view.state == "cancelled"
    assert await records.runs("oma", b) == 0
    assert all([await records.runs("oma", f"{b}-{i}") == 0 for i in range(5)])


async def test_a_child_of_another_company_is_left_alone_and_the_parent_waits_for_it(
    system: JobSystem, records: Records
):
    root = PARENT.step(tag="root").after(PROBE.step(tag="mine"), PROBE.step(tag="theirs"))
    sent = await send_flow(root, company_id=5, producer=system.producer)
    r = sent.job_id
    theirs = await Job.fromId(system.producer.queue("oma"), f"{r}-1")
    await theirs.updateData({**theirs.data, COMPANY_FIELD: 6})  # as a platform flow could mix
    done = await system.admin.actions.cancel("oma", r, MINE)
    assert (done.removed, done.marked, done.left_alone) == ([f"oma/{r}-0"], [f"oma/{r}"], 1)
    assert (await system.admin.get_job("oma", f"{r}-1")).state == "waiting"
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", r, timeout_s=30)
    assert view.state == "cancelled"
    assert await records.runs("oma", f"{r}-1") == 1 and await records.runs("oma", r) == 0
