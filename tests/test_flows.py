"""Flows on a real Redis: a parent runs only after its children and sees their results; a child
that fails for good fails, skips or lets continue its parent as declared; a flow spans queues, is
one add (its jobs in their company's index), goes through the outbox too, and adding it twice
adds each job once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.errors import ConfigurationError, InvalidJobPayload, JobNotFound
from ils.queue import keys
from ils.queue.declare import JobDef
from ils.queue.flow_store import add_tree
from ils.queue.flows import build_tree, send_flow
from ils.queue.registry import MASK
from ils.queue.tenancy import ViewerScope
from tests.conftest import make_settings, probe_registry
from tests.support.handlers import PARENT_PROBES, PROBES
from tests.support.running import Records, running


def on(defs: tuple[JobDef[Any, Any], ...], queue: str = "oma") -> JobDef[Any, Any]:
    return next(d for d in defs if d.job_type.queue == queue)


PROBE, PARENT = on(PROBES), on(PARENT_PROBES)


async def test_a_parent_runs_after_its_children_and_sees_their_results(
    system: JobSystem, records: Records
):
    root = PARENT.step(tag="parent").after(PROBE.step(tag="a"), PROBE.step(tag="b"))
    sent = await send_flow(root, producer=system.producer)
    assert sent.mode == "queued"
    assert (await system.admin.get_job("oma", sent.job_id)).state == "waiting-children"
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", sent.job_id, timeout_s=30)
    assert view.state == "completed"
    order = await records.order()
    assert order[-1] == "oma:parent"
    assert sorted(order[:2]) == ["oma:a", "oma:b"]
    result = view.return_value
    assert result["counts"] == {"completed": 2, "failed": 0, "pending": 0}
    children = sorted(result["children"], key=lambda c: c["key"])
    assert [c["key"] for c in children] == [f"oma/{sent.job_id}-0", f"oma/{sent.job_id}-1"]
    assert [c["value"]["tag"] for c in children] == ["a", "b"]
    assert {c["name"] for c in children} == {"test-probe"}


@pytest.mark.parametrize(
    ("policy", "state", "parent_runs"),
    [("fail", "failed", 0), ("skip", "completed", 0), ("continue", "completed", 1)],
)
async def test_a_child_that_fails_for_good_fails_skips_or_continues_its_parent(
    system: JobSystem, records: Records, policy: Any, state: str, parent_runs: int
):
    root = PARENT.step(tag="parent").after(
        PROBE.step(tag="bad", give_up=True), PROBE.step(tag="good"), on_child_failure=policy
    )
    sent = await send_flow(root, producer=system.producer)
    bad = f"{sent.job_id}-0"
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", sent.job_id, timeout_s=30)
        # the other child still runs (its result is kept, whatever the parent became)
        assert (await system.admin.wait_for_job("oma", f"{sent.job_id}-1", 30)).state == (
            "completed"
        )
    assert view.state == state
    assert await records.runs("oma", sent.job_id) == parent_runs
    if policy == "fail":
        assert bad in (view.failed_reason or "")
    elif policy == "skip":
        assert view.return_value == {"skipped": True, "failedChildren": [f"oma/{bad}"]}
    else:
        assert view.return_value["counts"] == {"completed": 1, "failed": 1, "pending": 0}
        failed = [c for c in view.return_value["children"] if not c["completed"]]
        assert [(c["key"], c["value"]) for c in failed] == [(f"oma/{bad}", "permanent problem")]


async def test_a_flow_spans_queues_and_levels(system: JobSystem, records: Records):
    leaf = on(PROBES, "pdf").step(tag="pdf-leaf")
    middle = on(PARENT_PROBES, "pdf").step(tag="pdf-middle").after(leaf)
    root = on(PARENT_PROBES, "email").step(tag="email-root").after(middle, PROBE.step(tag="oma"))
    sent = await send_flow(root, producer=system.producer)
    async with running(system, "email", "pdf", "oma"):
        view = await system.admin.wait_for_job("email", sent.job_id, timeout_s=30)
    assert view.state == "completed"
    order = await records.order()
    assert order.index("pdf:pdf-leaf") < order.index("pdf:pdf-middle") < len(order) - 1
    assert order[-1] == "email:email-root"
    keys_seen = sorted(c["key"] for c in view.return_value["children"])
    assert keys_seen == [f"oma/{sent.job_id}-1", f"pdf/{sent.job_id}-0"]


async def test_every_job_of_a_companys_flow_is_in_its_index(system: JobSystem):
    root = PARENT.step(tag="p").after(on(PROBES, "pdf").step(tag="c"), PROBE.step(tag="d"))
    sent = await send_flow(root, company_id=7, producer=system.producer)
    client = system.broker.admin_client
    pdf, oma = system.producer.queue("pdf"), system.producer.queue("oma")
    prefix = system.settings.prefix
    assert await client.zrange(keys.company_jobs(prefix, "oma", 7), 0, -1) == sorted(
        [sent.job_id, f"{sent.job_id}-1"]
    )
    assert await client.zrange(keys.company_jobs(prefix, "pdf", 7), 0, -1) == [f"{sent.job_id}-0"]
    for queue, job_id in ((oma, sent.job_id), (pdf, f"{sent.job_id}-0")):
        data = await client.hget(keys.job_hash(queue, job_id), "data")
        assert '"_ilsCompany": 7' in data or '"_ilsCompany":7' in data
    mine, theirs = ViewerScope(company_id=7), ViewerScope(company_id=8)
    parents = await system.admin.browse.jobs("oma", "waiting-children", scope=mine)
    assert [j.id for j in parents.jobs] == [sent.job_id]
    assert (await system.admin.browse.jobs("oma", "waiting-children", scope=theirs)).total == 0


async def test_adding_the_same_flow_twice_runs_each_job_once(system: JobSystem, records: Records):
    root = PARENT.step(tag="p").after(PROBE.step(tag="a"), PROBE.step(tag="b"))
    tree = build_tree(root, system.settings)
    first = await add_tree(system.broker, tree)
    again = await add_tree(system.broker, tree)  # a relay that crashed before marking its row
    assert first == again == tree["opts"]["jobId"]
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", first, timeout_s=30)
    assert view.state == "completed"
    assert sorted(await records.order()) == ["oma:a", "oma:b", "oma:p"]
    assert view.return_value["counts"]["completed"] == 2


async def test_bad_steps_are_refused_before_anything_is_added(system: JobSystem):
    with pytest.raises(InvalidJobPayload) as caught:
        PROBE.step(tag="x", fail_times="many")
    assert caught.value.fields == ["fail_times"]
    with pytest.raises(ConfigurationError, match="did you mean 'skip'"):
        PARENT.step().after(PROBE.step(), on_child_failure="skp")  # type: ignore[arg-type]
    assert (await system.admin.stats(["oma"]))["oma"]["waiting"] == 0


@pytest.fixture
async def db_system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    js = JobSystem(make_settings(redis_url, prefix, tmp_path), probe_registry(), database=db)
    yield js
    await js.close()


async def test_a_flow_enqueued_with_a_session_is_one_outbox_row_relayed_after_commit(
    db_system: JobSystem, db: Database, records: Records
):
    root = PARENT.step(tag="p").after(PROBE.step(tag="a"), PROBE.step(tag="b"))
    async with db.session() as session:
        sent = await send_flow(root, company_id=3, session=session)
        assert sent.mode == "outbox"
        assert await db_system.outbox.count(pending=True, session=session) == 1
    async with running(db_system, "oma"):
        view = await db_system.admin.wait_for_job("oma", sent.job_id, timeout_s=30)
    assert view.state == "completed"
    assert sorted(await records.order()) == ["oma:a", "oma:b", "oma:p"]
    assert await db_system.outbox.count(pending=True) == 0
    scope = ViewerScope(company_id=3)
    assert (await db_system.admin.stats(["oma"], scope))["oma"]["completed"] == 3


async def test_the_admin_shows_a_jobs_flow_from_its_root_within_the_viewers_scope(
    system: JobSystem,
):
    middle = on(PARENT_PROBES, "pdf").step(tag="mid").after(on(PROBES, "pdf").step(tag="leaf"))
    root = PARENT.step(tag="root").after(
        middle, PROBE.step(tag="bad", give_up=True), on_child_failure="continue"
    )
    sent = await send_flow(root, company_id=5, producer=system.producer)
    async with running(system, "oma", "pdf"):
        await system.admin.wait_for_job("oma", sent.job_id, timeout_s=30)
    root_id, leaf = sent.job_id, f"{sent.job_id}-0-0"
    tree = await system.admin.flows.tree("pdf", leaf, ViewerScope(5))  # asked from the leaf
    assert (tree.id, tree.queue, tree.state, tree.on_child_failure) == (
        root_id, "oma", "completed", "continue"
    )  # fmt: skip
    assert tree.children_total == 2
    got = {(c.queue, c.id): (c.name, c.state, c.failed_reason) for c in tree.children}
    assert got == {
        ("pdf", f"{root_id}-0"): ("test-parent", "completed", None),
        ("oma", f"{root_id}-1"): ("test-probe", "failed", "permanent problem"),
    }
    mid = next(c for c in tree.children if c.queue == "pdf")
    assert mid.on_child_failure == "fail"
    assert [(c.id, c.state) for c in mid.children] == [(leaf, "completed")]
    masked = await system.admin.flows.tree("oma", root_id, ViewerScope(5, mask=True))
    bad = next(c for c in masked.children if c.queue == "oma")
    assert bad.failed_reason == MASK
    with pytest.raises(JobNotFound):
        await system.admin.flows.tree("pdf", leaf, ViewerScope(6))
    lone = await system.producer.enqueue("oma", "test-probe", {})
    alone = await system.admin.flows.tree("oma", lone.job_id)
    assert (alone.id, alone.children, alone.children_total) == (lone.job_id, [], 0)
