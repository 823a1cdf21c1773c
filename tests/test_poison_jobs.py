"""Issue 16, defect 4: jobs a worker can never run — data that is not JSON (a foreign producer
wrote it), a name no job type has — fail once with a clear reason, are kept as dead letters, are
never retried, and every log line about them names the job."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from ils.bootstrap import JobSystem
from ils.logs import JobContextFilter
from ils.queue import keys
from ils.queue.dead_letters import DeadLetterFilter
from tests.support.running import Records, running


class Collected(logging.Handler):
    """The warnings and errors of the ``ils`` loggers, stamped as the app's handlers stamp them."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []
        self.addFilter(JobContextFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def collected() -> Iterator[Collected]:
    handler = Collected()
    logger = logging.getLogger("ils")
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)


async def dead_letter_reasons(system: JobSystem, job_id: str) -> list[str]:
    async with system.database.session() as s:
        _total, rows = await system.dead_letters.page(s, DeadLetterFilter(queue="oma"))
    return [d.reason for d in rows if d.job_id == job_id]


async def test_a_job_whose_data_is_not_json_fails_once_and_is_dead_lettered(
    db_system: JobSystem, records: Records, collected: Collected
):
    system = db_system
    queue = system.broker.queues.get("oma")
    job = await queue.add("test-probe", {}, {"attempts": 3})
    job_id = str(job.id)
    await system.broker.admin_client.hset(keys.job_hash(queue, job_id), "data", "{not json")
    # Admin views read it while it waits (a page with it is no error).
    assert (await system.admin.get_job("oma", job_id)).state == "waiting"
    listed = await system.admin.browse.jobs("oma", "waiting")
    assert [j.id for j in listed.jobs] == [job_id]
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", job_id, timeout_s=20)
    assert view.state == "failed"
    assert view.attempts_made == 1  # failed once, its other attempts not used
    assert view.failed_reason is not None and "job data is not JSON" in view.failed_reason
    assert "{not json" in view.failed_reason
    assert await records.runs("oma", job_id) == 0  # the handler never saw it
    [reason] = await dead_letter_reasons(system, job_id)
    assert "job data is not JSON" in reason
    lines = [r for r in collected.records if job_id in r.getMessage()]
    assert lines, "the quarantine and the failure are logged"
    assert all(getattr(r, "job_id", None) == job_id for r in collected.records), [
        (r.name, r.getMessage()) for r in collected.records
    ]


async def test_a_job_of_an_unknown_name_fails_once_and_is_dead_lettered(
    db_system: JobSystem, collected: Collected
):
    system = db_system
    job = await system.broker.queues.get("oma").add("no-such-type", {"a": 1}, {"attempts": 3})
    job_id = str(job.id)
    async with running(system, "oma"):
        view = await system.admin.wait_for_job("oma", job_id, timeout_s=20)
    assert view.state == "failed" and view.attempts_made == 1
    assert view.failed_reason is not None and "unknown job type" in view.failed_reason
    [reason] = await dead_letter_reasons(system, job_id)
    assert "no job type oma/no-such-type" in reason
    assert collected.records
    assert all(getattr(r, "job_id", None) == job_id for r in collected.records)
