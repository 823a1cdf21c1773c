"""A Node BullMQ producer (the ``bullmq`` package pinned in ``tests/node``, installed by
``make node-deps``) adds a flow across two queues; the Python workers run its children, then its
parent, which sees their results; the flow is its company's, in its index, and the admin layer
shows its tree. A Node worker runs the jobs the Python producer adds, singly and in bulk.
Skipped locally where Node or the package is missing (``make test`` installs it); under
``CI=true`` a missing one fails the run."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from ils.bootstrap import JobSystem
from ils.queue.producer import EnqueueOptions
from ils.queue.tenancy import ViewerScope
from tests.support.node import MISSING, run_node
from tests.support.running import Records, running

pytestmark = pytest.mark.skipif(
    MISSING, reason="Node or its bullmq package is missing: run `make node-deps`"
)


async def node_adds_flow(redis_url: str, prefix: str, company: int) -> dict[str, object]:
    args = {"url": redis_url, "prefix": prefix, "company": company, "parentId": uuid.uuid4().hex}
    added: dict[str, object] = await run_node("add_flow.mjs", args)
    return added


async def test_a_node_producers_flow_is_run_by_the_python_workers(
    system: JobSystem, redis_url: str, prefix: str
):
    records = Records(redis_url, prefix)
    try:
        added = await node_adds_flow(redis_url, prefix, company=7)
        parent = str(added["parent"])
        assert added["children"] == [f"{parent}-oma", f"{parent}-pdf"]
        mine = ViewerScope(company_id=7)
        assert (await system.admin.get_job("oma", parent, mine)).state == "waiting-children"
        async with running(system, "oma", "pdf"):
            view = await system.admin.wait_for_job("oma", parent, timeout_s=30)
        assert view.state == "completed"
        order = await records.order()
        assert sorted(order[:2]) == ["oma:node-oma", "pdf:node-pdf"]
        assert order[2] == "oma:node-parent"
        children = {c["key"]: c["value"]["tag"] for c in view.return_value["children"]}
        assert children == {f"oma/{parent}-oma": "node-oma", f"pdf/{parent}-pdf": "node-pdf"}
        tree = await system.admin.flows.tree("pdf", f"{parent}-pdf", mine)
        assert (tree.id, tree.on_child_failure, tree.children_total) == (parent, "fail", 2)
        listed = await system.admin.browse.jobs("pdf", "completed", scope=mine)
        assert [j.id for j in listed.jobs] == [f"{parent}-pdf"]
    finally:
        await records.close()


async def node_consumes(redis_url: str, prefix: str, queue: str, count: int) -> list[Any]:
    args = {"url": redis_url, "prefix": prefix, "queue": queue, "count": count}
    seen: list[Any] = await run_node("consume.mjs", args)
    return seen


async def test_a_node_worker_runs_the_jobs_of_the_lean_and_the_bulk_add(
    system: JobSystem, redis_url: str, prefix: str
):
    producer = system.producer
    alone = await producer.enqueue("oma", "test-probe", {"tag": "single"}, company_id=4)
    urgent = EnqueueOptions(priority=1, attempts=6, job_id="urgent-one")
    bulk = await producer.enqueue_many(
        "oma", "test-probe", [{"tag": "b0"}, {"tag": "b1"}, {"tag": "b2"}], [None, urgent, None]
    )
    seen = await node_consumes(redis_url, prefix, "oma", 4)
    by_id = {job["id"]: job for job in seen}
    assert set(by_id) == {alone.job_id, *(b.job_id for b in bulk)}
    assert (by_id["urgent-one"]["priority"], by_id["urgent-one"]["attempts"]) == (1, 6)
    assert {job["name"] for job in seen} == {"test-probe"}
    assert by_id[alone.job_id]["data"] == {**by_id[alone.job_id]["data"], "tag": "single",
                                           "_ilsCompany": 4}  # fmt: skip
    assert [by_id[b.job_id]["data"]["tag"] for b in bulk] == ["b0", "b1", "b2"]
    for job_id in by_id:
        view = await system.admin.get_job("oma", job_id)
        assert view.state == "completed" and view.return_value == {"ranBy": "node"}
