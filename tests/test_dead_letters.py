"""Dead letters on both databases, with real workers: a job out of attempts (or given up at once:
an unknown type, a bad payload) is recorded once with its first and last failure, its company's
admins are notified once, a replay is a new job enqueued once with a link to the original, and
each company sees, replays and discards only its own (masked for ``company_admin``)."""

from __future__ import annotations

import dataclasses
import types
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from bullmq.custom_errors import DelayedError, WaitingChildrenError
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import Notification
from ils.errors import JobNotFound, JobStateConflict
from ils.jobs.dead_letter_notice import DEAD_LETTERS_URL
from ils.queue.context import JobContext
from ils.queue.dead_letters import DeadLetterFilter
from ils.queue.processing import Endings
from ils.queue.producer import EnqueueOptions
from ils.queue.registry import MASK
from ils.queue.tenancy import PLATFORM, ViewerScope, add_job, with_company
from tests.conftest import system_on
from tests.support.email_world import World, make_world
from tests.support.running import Records, running

TWICE = EnqueueOptions(attempts=2)


# The oma and notification retries come 50 ms apart.
FAST_RETRIES = {"ILS_QUEUE_OMA_BACKOFF_DELAY_MS": "50",
                "ILS_QUEUE_NOTIFICATION_BACKOFF_DELAY_MS": "50"}  # fmt: skip


@pytest.fixture
async def world(db: Database) -> World:
    return await make_world(db)


@pytest.fixture
async def system(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
) -> AsyncIterator[JobSystem]:
    async with system_on(redis_url, prefix, tmp_path, db, FAST_RETRIES) as js:
        yield js


async def probe(system: JobSystem, company_id: int | None, options: EnqueueOptions = TWICE,
                **data: object) -> str:  # fmt: skip
    enqueued = await system.producer.enqueue("oma", "test-probe", data, options,
                                             company_id=company_id)  # fmt: skip
    return enqueued.job_id


async def notifications(db: Database) -> list[Notification]:
    async with db.session() as s:
        return list(await s.scalars(select(Notification).order_by(Notification.id)))


async def test_a_job_out_of_attempts_is_one_dead_letter_and_its_admins_hear_once(
    system: JobSystem, world: World, db: Database
):
    job_id = await probe(system, world.lab.id, fail_times=9, tag="doomed")
    async with running(system, "oma", "notification"):
        failed = await system.admin.wait_for_job("oma", job_id, timeout_s=30)
        assert failed.state == "failed" and failed.attempts_made == 2
        async with db.session() as s:
            page = await system.admin.dead_letters.page(s, PLATFORM)
        [dead] = page["dead_letters"]
        notice = await system.admin.wait_for_job("notification", f"dlq-{dead['id']}-notice", 30)
    assert notice.state == "completed"
    assert page["total"] == 1
    assert (dead["queue"], dead["name"], dead["job_id"]) == ("oma", "test-probe", job_id)
    assert dead["company_id"] == world.lab.id and dead["attempts"] == 2
    assert dead["payload"]["tag"] == "doomed" and "_ilsCompany" not in dead["payload"]
    assert dead["reason"] == "transient failure 2"
    assert "RuntimeError: transient failure 2" in dead["stack"]
    assert dead["first_failed_at"] < dead["last_failed_at"]  # the first attempt's, kept
    assert dead["replayed_as"] is None
    [note] = await notifications(db)
    assert note.user_id == world.user.id and note.action_url == DEAD_LETTERS_URL
    assert f"dead letter {dead['id']}" in note.message and "transient" not in note.message

    # Recording the same job again (a worker killed after recording, the job run and failed
    # again) updates its one row, and notifies nobody a second time.
    async with running(system, "oma", "notification"):
        await system.admin.actions.retry("oma", job_id)
        again = await system.admin.wait_for_job("oma", job_id, timeout_s=30)
        assert again.state == "failed"
        async with db.session() as s:
            after = await system.admin.dead_letters.page(s, PLATFORM)
        await system.relay.wait_idle()
    [same] = after["dead_letters"]
    assert same["id"] == dead["id"] and same["last_failed_at"] > dead["last_failed_at"]
    assert len(await notifications(db)) == 1


async def test_an_unknown_type_and_a_bad_payload_are_dead_at_once_and_not_replayable(
    system: JobSystem, world: World, db: Database
):
    queue = system.producer.queue("oma")
    stamp = with_company({"tag": "x"}, world.lab.id)
    unknown = await add_job(queue, "no-such-type", stamp, {"attempts": 5})
    bad = await add_job(queue, "test-probe", {**stamp, "failTimes": "many"}, {"attempts": 5})
    async with running(system, "oma"):
        for job in (unknown, bad):
            view = await system.admin.wait_for_job("oma", str(job.id), timeout_s=30)
            assert view.state == "failed" and view.attempts_made == 1
    async with db.session() as s:
        page = await system.admin.dead_letters.page(s, PLATFORM)
        reasons = {d["job_id"]: d["reason"] for d in page["dead_letters"]}
        assert reasons[str(unknown.id)].startswith("unknown job type")
        assert "invalid payload for oma/test-probe: fail_times" in reasons[str(bad.id)]
        for d in page["dead_letters"]:
            assert d["attempts"] == 1 and d["first_failed_at"] == d["last_failed_at"]
            with pytest.raises(JobStateConflict, match=f"dead letter {d['id']} cannot be"):
                await system.admin.dead_letters.replay(s, PLATFORM, d["id"])


async def test_a_replay_is_a_new_job_enqueued_once_that_names_its_dead_letter(
    system: JobSystem, world: World, db: Database, records: Records
):
    await records.break_probes()
    job_id = await probe(system, world.lab.id, broken=True, tag="flaky-supplier")
    async with running(system, "oma"):
        assert (await system.admin.wait_for_job("oma", job_id, timeout_s=30)).state == "failed"
        await records.break_probes(False)
        async with db.session() as s:
            [dead] = (await system.admin.dead_letters.page(s, PLATFORM))["dead_letters"]
            first = await system.admin.dead_letters.replay(s, PLATFORM, dead["id"])
        async with db.session() as s:  # another request, after the first committed
            second = await system.admin.dead_letters.replay(s, PLATFORM, dead["id"])
            many = await system.admin.dead_letters.replay_many(s, PLATFORM, [dead["id"], 999_999])
        assert first.enqueued and first.job_id == f"dlq-{dead['id']}"
        assert not second.enqueued and second.job_id == first.job_id
        assert [(r.job_id, r.enqueued) for r in many] == [(first.job_id, False), (None, False)]
        assert many[1].error == "no dead letter 999999"
        replay = await system.admin.wait_for_job("oma", first.job_id, timeout_s=30)
    assert replay.state == "completed" and replay.data["tag"] == "flaky-supplier"
    assert await records.runs("oma", first.job_id) == 1
    counts = (await system.admin.stats(["oma"]))["oma"]
    assert counts["completed"] == 1 and counts["failed"] == 1  # the original stays failed
    assert (await system.admin.browse.jobs("oma", "completed")).jobs[0].company_id == world.lab.id
    async with db.session() as s:
        shown = await system.admin.dead_letters.inspect(s, PLATFORM, dead["id"])
        not_replayed = DeadLetterFilter(replayed=False)
        pending = await system.admin.dead_letters.page(s, PLATFORM, not_replayed)
    assert shown["replayed_as"] == first.job_id and shown["replayed_at"] is not None
    assert pending["total"] == 0


async def test_each_company_sees_replays_and_discards_only_its_own_masked_for_company_admin(
    system: JobSystem, world: World, db: Database
):
    mine = await probe(system, world.lab.id, give_up=True, tag="lab's")
    theirs = await probe(system, world.practice.id, give_up=True, tag="practice's")
    async with running(system, "oma"):
        for job_id in (mine, theirs):
            await system.admin.wait_for_job("oma", job_id, timeout_s=30)
    lab = ViewerScope(company_id=world.lab.id)
    masked = dataclasses.replace(lab, mask=True)
    async with db.session() as s:
        everyone = await system.admin.dead_letters.page(s, PLATFORM)
        ids = {d["job_id"]: d["id"] for d in everyone["dead_letters"]}
        own = await system.admin.dead_letters.page(s, lab)
        assert [d["job_id"] for d in own["dead_letters"]] == [mine] and own["total"] == 1
        other = DeadLetterFilter(company_id=world.practice.id)
        assert (await system.admin.dead_letters.page(s, lab, other))["total"] == 0
        by_queue = DeadLetterFilter(queue="oma", name="test-probe")
        assert (await system.admin.dead_letters.page(s, PLATFORM, by_queue))["total"] == 2
        assert (await system.admin.dead_letters.page(s, PLATFORM, DeadLetterFilter(
            queue="pdf")))["total"] == 0  # fmt: skip
        for act in (system.admin.dead_letters.inspect, system.admin.dead_letters.replay,
                    system.admin.dead_letters.discard):  # fmt: skip
            with pytest.raises(JobNotFound, match=f"no dead letter {ids[theirs]}"):
                await act(s, lab, ids[theirs])
        full = await system.admin.dead_letters.inspect(s, lab, ids[mine])
        hidden = await system.admin.dead_letters.inspect(s, masked, ids[mine])
        assert full["reason"] == "permanent problem" and "GiveUp" in full["stack"]
        assert hidden["reason"] == MASK and hidden["stack"] == MASK
        assert hidden["payload"]["giveUp"] is True  # the probe's fields are not personal
        gone = await system.admin.dead_letters.discard(s, lab, ids[mine])
        assert gone.job_id == mine
    async with db.session() as s:
        left = await system.admin.dead_letters.page(s, PLATFORM)
        assert [d["job_id"] for d in left["dead_letters"]] == [theirs]


async def test_a_job_failed_without_our_recording_is_swept_into_one_dead_letter(
    system: JobSystem, world: World, db: Database
):
    sweep = system.dead_letter_sweep
    sweep.grace_ms = 0  # no failure is being recorded by a worker right now
    assert await sweep.sweep_queue("oma") == 0  # the first sweep starts from now
    earlier = await probe(system, world.lab.id, give_up=True, tag="before")
    async with running(system, "oma", dead_letters=None):  # e.g. a Node worker, or a stall
        assert (await system.admin.wait_for_job("oma", earlier, timeout_s=30)).state == "failed"
    async with db.session() as s:
        assert (await system.admin.dead_letters.page(s, PLATFORM))["total"] == 0
    assert await sweep.sweep() == 1
    assert await sweep.sweep() == 0  # swept once, however often the sweep runs
    async with db.session() as s:
        [dead] = (await system.admin.dead_letters.page(s, PLATFORM))["dead_letters"]
    assert dead["job_id"] == earlier and dead["company_id"] == world.lab.id
    assert dead["reason"] == "permanent problem" and "GiveUp" in dead["stack"]
    assert dead["attempts"] == 1 and dead["payload"]["tag"] == "before"


async def test_bullmq_control_flow_errors_are_neither_failures_nor_dead_letters():
    job = types.SimpleNamespace(id="j1", name="test-probe", data={}, opts={"attempts": 1})
    ctx: JobContext[None] = JobContext("j1", "oma", "test-probe", 1, 1, None)  # type: ignore[arg-type]
    for signal in (WaitingChildrenError(), DelayedError()):
        ending = await Endings(None).settle("oma", job, "token", ctx, signal, False)
        assert ending.error is signal and ending.outcome is None
