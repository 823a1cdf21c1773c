"""The lean add (:mod:`ils.queue.engine_add`) sends what ``bullmq.Queue.add`` sends: the same
script arguments, byte for byte, and the same job in Redis (hash fields, state), for each way a
job is added (standard, delayed, prioritized, with a job id, deduplicated, with the queue's
default options); the bulk add writes the same jobs as single adds."""

from __future__ import annotations

from typing import Any

import pytest
from bullmq import Job, Queue

from ils.queue import keys
from ils.queue.add_stream import add_in_order
from ils.queue.broker import make_client
from ils.queue.embedded import EmbeddedServer
from ils.queue.engine_add import EngineAdder, bulk_job, json_data

BACKOFF = {"type": "ils", "delay": 1000}
RETAIN = {"removeOnComplete": {"age": 3600, "count": 100}, "removeOnFail": {"age": 86400}}
CASES: dict[str, dict[str, Any]] = {
    "standard": {"attempts": 3, "backoff": BACKOFF, **RETAIN},
    "with-id": {"attempts": 1, "backoff": 500, "jobId": "order-7"},
    "delayed": {"attempts": 2, "backoff": BACKOFF, "delay": 60_000, "jobId": "later-1"},
    "prioritized": {"attempts": 5, "priority": 3, "jobId": "urgent-1", **RETAIN},
    "dedup": {"attempts": 1, "deduplication": {"id": "brief-1", "ttl": 5000}, "jobId": "d-1"},
}
DATA = {"orderId": 7, "note": "caf\u00e9 \u2713", "lines": [1, 2.5, None, True]}
STAMP = 1_765_000_000_000


@pytest.fixture
async def queues(redis_url: str, prefix: str):
    made = []

    def queue(side: str, defaults: dict[str, Any] | None = None) -> Queue:
        opts: dict[str, Any] = {"connection": make_client(redis_url, "producer")}
        opts["prefix"] = f"{prefix}:{side}"
        if defaults:
            opts["defaultJobOptions"] = defaults
        made.append(Queue("oma", opts))
        return made[-1]

    yield queue
    for q in made:
        await q.close()


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_script_arguments_are_those_of_queue_add(queues, case: str):
    queue = queues("same", {"attempts": 4, "removeOnFail": True})
    opts = {**CASES[case], "timestamp": STAMP}
    job = Job(queue, "bench-noop", DATA, {**queue.jobsOpts, **opts})
    theirs = queue.scripts.addJobArgs(job)
    adder = EngineAdder(queue)
    prepared, stamp = adder.prepare(opts)
    ours = adder.args("bench-noop", json_data(DATA), prepared, stamp)
    assert ours[:3] == theirs
    expected_script = {"delayed": "addDelayedJob", "prioritized": "addPrioritizedJob"}
    assert prepared.script == expected_script.get(case, "addStandardJob")
    names = {"addStandardJob": ["wait", "paused", "meta", "id", "completed", "delayed", "active",
                                "events", "marker"]}  # fmt: skip
    if prepared.script in names:
        assert [k.decode() for k in prepared.keys] == queue.scripts.getKeys(names[prepared.script])


def comparable(stored: dict[Any, Any]) -> dict[str, Any]:
    """A job hash without its add time (the one field two adds cannot share)."""
    out = {k.decode() if isinstance(k, bytes) else k: v for k, v in stored.items()}
    out.pop("timestamp")
    return out


@pytest.mark.parametrize("case", sorted(CASES))
async def test_the_job_in_redis_is_the_one_queue_add_makes(queues, case: str):
    raw, lean = queues("raw"), queues("lean")
    added = await raw.add("bench-noop", DATA, CASES[case])
    job_id = await EngineAdder(lean).add("bench-noop", json_data(DATA), CASES[case], None)
    assert job_id == str(added.id)
    theirs = await raw.client.hgetall(raw.toKey(str(added.id)))
    ours = await lean.client.hgetall(lean.toKey(job_id))
    assert comparable(ours) == comparable(theirs)
    assert await lean.getJobState(job_id) == await raw.getJobState(str(added.id))
    if case == "dedup":
        again = await EngineAdder(lean).add("bench-noop", json_data(DATA), CASES[case], None)
        assert again == job_id  # the deduplication key answers the first job


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("defaults", [None, {"attempts": 4, "backoff": 200}])
def test_shared_options_with_each_jobs_id_prepare_as_the_jobs_own(queues, case, defaults):
    adder = EngineAdder(queues("shared", defaults))
    shared = {key: value for key, value in CASES[case].items() if key != "jobId"}
    for shared_opts in (shared, CASES[case]):  # without an id of their own, and with one
        for job_id in ("a-1", "b-2"):  # the second from what the first worked out
            fast, fast_stamp = adder.prepare_with_id(shared_opts, job_id)
            whole, whole_stamp = adder.prepare({**shared_opts, "jobId": job_id})
            assert (fast, fast_stamp) == (whole, whole_stamp)
            assert fast.job_id == job_id


async def test_a_bulk_add_writes_the_jobs_single_adds_write(queues):
    raw, lean = queues("raw"), queues("lean")
    adder = EngineAdder(lean)
    jobs = [
        bulk_job(adder, "bench-noop", json_data({**DATA, "n": i}), {**opts, "jobId": f"{case}-b"},
                 None)
        for i, (case, opts) in enumerate(sorted(CASES.items()))
    ]  # fmt: skip
    ids = await adder.add_many(jobs)
    assert ids == [f"{case}-b" for case in sorted(CASES)]
    for i, (case, opts) in enumerate(sorted(CASES.items())):
        await raw.add("bench-noop", {**DATA, "n": i}, {**opts, "jobId": f"{case}-b"})
        theirs = await raw.client.hgetall(raw.toKey(f"{case}-b"))
        ours = await lean.client.hgetall(lean.toKey(f"{case}-b"))
        assert comparable(ours) == comparable(theirs), case
        assert await lean.getJobState(f"{case}-b") == await raw.getJobState(f"{case}-b")


async def test_a_server_that_lost_the_scripts_gets_them_again(own_server: EmbeddedServer):
    url = own_server.ensure()
    queue = Queue("oma", {"connection": make_client(url, "producer"), "prefix": "lost"})
    adder = EngineAdder(queue, make_client(url, "bounded"))
    try:
        first = await adder.add("bench-noop", json_data(DATA), CASES["standard"], None)
        await queue.client.script_flush()  # the server's own: this test's server alone
        second = await adder.add("bench-noop", json_data(DATA), CASES["standard"], None)
        jobs = [bulk_job(adder, "bench-noop", json_data(DATA), {"jobId": "b-1"}, None)]
        await queue.client.script_flush()
        assert await adder.add_many(jobs) == ["b-1"]
        await queue.client.script_flush()  # a company's job: its index entry and its add
        assert await adder.add("bench-noop", json_data(DATA), {"jobId": "c-1"}, 7) == "c-1"
        assert first != second
        assert await queue.getJobCounts("wait") == {"wait": 4}
        index = keys.company_jobs(queue.prefix, queue.name, 7)
        assert await queue.client.zrange(index, 0, -1) == ["c-1"]
    finally:
        await adder.client.aclose()
        await queue.close()


async def test_adds_ask_no_script_exists_first(own_server: EmbeddedServer):
    """A pipeline whose scripts are registered with it asks ``SCRIPT EXISTS`` before it is sent:
    a round trip for every bulk chunk and every company's job. The adds send ``EVALSHA`` alone
    (a server that lost the scripts answers NOSCRIPT: the test above)."""
    url = own_server.ensure()
    queue = Queue("oma", {"connection": make_client(url, "producer"), "prefix": "exists"})
    adder = EngineAdder(queue, make_client(url, "bounded"))
    try:
        await adder.add("bench-noop", json_data(DATA), {"jobId": "w-1"}, 7)  # scripts loaded
        before = await queue.client.info("commandstats")
        for i in range(3):
            await adder.add("bench-noop", json_data(DATA), {"jobId": f"c-{i}"}, 7)
        jobs = [bulk_job(adder, "bench-noop", json_data(DATA), {"jobId": f"b-{i}"}, 7)
                for i in range(3)]  # fmt: skip
        assert await adder.add_many(jobs) == ["b-0", "b-1", "b-2"]
        after = await queue.client.info("commandstats")
        calls = {
            name: after[name]["calls"] - before.get(name, {}).get("calls", 0)
            for name in after
            if name.startswith("cmdstat_") and name != "cmdstat_info"
        }
        assert sum(n for name, n in calls.items() if name.startswith("cmdstat_script")) == 0
        assert calls["cmdstat_evalsha"] == 3 * 2 + 3  # index + add a job; a ZADD for the bulk
    finally:
        await adder.client.aclose()
        await queue.close()


async def test_a_stream_the_server_answers_noscript_is_added_again_once(
    own_server: EmbeddedServer,
):
    """Chunks sent in order on one connection (ils.queue.add_stream): a server that lost the
    scripts after they were loaded answers NOSCRIPT to every chunk; each is added again, once."""
    url = own_server.ensure()
    queue = Queue("oma", {"connection": make_client(url, "producer"), "prefix": "stream"})
    adder = EngineAdder(queue, make_client(url, "bounded"))
    try:
        await adder.ensure_scripts()
        await queue.client.script_flush()
        chunks = [
            [bulk_job(adder, "bench-noop", json_data({"n": i}), {"jobId": f"s-{i}"}, None)
             for i in range(start, start + 40)]
            for start in range(0, 200, 40)
        ]  # fmt: skip
        answers, error = await add_in_order(adder, chunks, 3)
        assert error is None
        assert [a for chunk in answers for a in chunk] == [f"s-{i}" for i in range(200)]
        assert await queue.getJobCounts("wait") == {"wait": 200}
        again, error = await add_in_order(adder, chunks, 3)  # the same ids: nothing added
        assert error is None and again == answers
        assert await queue.getJobCounts("wait") == {"wait": 200}
    finally:
        await adder.client.aclose()
        await queue.close()
