"""The chaos suite's own parts (bench/chaos), so ``make chaos`` cannot rot between runs: the audit
counts lost, duplicated and resent side effects; a stranded job's recovery is timed from the kill
that stranded it; and one tiny scenario runs end to end on its own embedded server, worker and
SMTP sink (seconds)."""

from __future__ import annotations

import dataclasses
from collections import Counter
from email.message import EmailMessage

from bench.chaos.audit import Effects, exported, tally
from bench.chaos.config import QUICK
from bench.chaos.mix import Expected
from bench.chaos.report import table
from bench.chaos.scenarios import poison
from bench.chaos.stalls import Kill, StallWatch

from ils.files import LocalFileStorage
from ils.jobs.email.transports import message_id_for
from ils.queue.ils_worker import IlsWorker

SENDER = "ILS <no-reply@example.com>"


def email(subject: str, message_id: str) -> EmailMessage:
    m = EmailMessage()
    m["Subject"], m["Message-ID"] = subject, message_id
    return m


def test_the_audit_tells_lost_duplicated_and_resent_effects_apart():
    expected = [
        Expected("email", "email", "1", "once"),
        Expected("email", "email", "2", "resent"),
        Expected("email", "email", "3", "twice"),
        Expected("email", "email", "4", "never"),
        Expected("email", "email", "5"),  # found by the Message-ID its job id gives
        Expected("notification", "notification", "6", "note"),
        Expected("document", "pdf", "7"),
        Expected("ai", "ai", "8"),
        Expected("oma", "oma", "9"),
        Expected("oma-svg", "oma", "10", "9"),  # the SVG is on the row of OMA job 9
        Expected("export", "oma", "11"),
        Expected("scheduled", "scheduled", "12"),
        Expected("briefing", "ai", "13"),  # a schedule run's AI job: an AI result row
    ]
    messages = [
        email("once", "<a@x>"),
        email("resent", "<b@x>"),
        email("resent", "<b@x>"),  # the same email again: dropped downstream
        email("twice", "<c@x>"),
        email("twice", "<d@x>"),  # another email for one job: a duplicate
        email("by id", message_id_for("5", SENDER)),
    ]
    rows = {
        "notification": Counter({"title:note": 2}),
        "document": Counter({"7": 1}),
        "ai": Counter({"13": 1}),
        "oma": Counter({"9": 1}),
        "oma-svg": Counter({"9": 1}),
        "export": Counter(),
        "scheduled": Counter({"12": 1}),
    }
    got = tally(expected, Effects.of(messages, rows), SENDER)
    assert (got["email"].lost, got["email"].duplicated, got["email"].resent) == (1, 1, 1)
    assert got["email"].lost_ids == ["4"] and got["email"].duplicated_ids == ["3"]
    assert got["email"].done == 4
    assert got["notification"].duplicated == 1
    assert (got["document"].lost, got["document"].done) == (0, 1)
    assert got["ai"].lost_ids == ["8"]
    assert [(k, got[k].done) for k in ("oma", "oma-svg", "scheduled", "briefing")] == [
        ("oma", 1),
        ("oma-svg", 1),
        ("scheduled", 1),
        ("briefing", 1),
    ]
    assert got["export"].lost_ids == ["11"]


def test_a_stranded_job_is_timed_from_the_kill_that_stranded_it():
    watch = StallWatch(system=None, queues=())  # type: ignore[arg-type]
    a, b, c, other_a = ("email", "1"), ("email", "2"), ("email", "3"), ("pdf", "1")
    # "a" was held by the process killed at 1 s, "b" by the one killed at 5 s, and "a" again
    # (taken back after its first stall) by the one killed at 7 s; another queue's job "1" is
    # another job.
    watch.kills = [Kill(1_000, {a}), Kill(3_000, {other_a}), Kill(5_000, {b}), Kill(7_000, {a})]
    watch.stalled = [(a, 6_000), (b, 9_000), (c, 6_000), (a, 12_000), (other_a, 5_000)]
    times, unexplained = watch.recovery_s()
    assert times == [5.0, 4.0, 1.0, 5.0, 2.0]
    assert unexplained == 1  # "c" was in no snapshot: timed from the kill before it


async def test_a_snapshot_holds_only_the_jobs_of_the_process_about_to_be_killed(system):
    """Jobs taken by another process (alive after the kill) are not stranded by it: a snapshot
    keeps the victim's jobs only, read from the lock tokens, which name the holding process."""
    queue = system.broker.queues.get("email")
    taken = {}
    for pid in (4242, 4343):
        job = await queue.add("probe", {"n": pid})
        opts = {"connection": queue.client, "prefix": queue.prefix, "autorun": False}
        worker = IlsWorker(queue.name, None, opts | {"name": f"host:{pid}:abc"})
        got = await worker.getNextJob(f"{worker.id}:1")
        assert got is not None and got.id == job.id
        taken[pid] = job.id
        await worker.close()
    watch = StallWatch(system, ["email"])
    await watch.snapshot(4242)
    await watch.snapshot(999)
    assert [k.active for k in watch.kills] == [{("email", taken[4242])}, set()]


async def test_a_tiny_poison_scenario_runs_end_to_end():
    cfg = dataclasses.replace(QUICK, workers=1, small_jobs=4, poison=2)
    result = await poison.run(cfg)
    assert result.lost == 0 and result.duplicated == 0 and result.failed == []
    assert result.figures == {"poison": 2, "poison_failed_once": 2}
    assert sum(t.done for t in result.tallies.values()) == result.jobs - 2
    assert "poison and corrupt jobs" in table([result])


def test_exported_oma_files_are_counted_by_their_job_id(tmp_path):
    files = LocalFileStorage(tmp_path)
    files.put("1/oma-export/3f9a-ORD-000042.oma", b"x")
    files.put("1/oma-export/77b0-ORD-000042.oma", b"x")
    files.put("1/oma/3f9a.oma", b"x")  # an uploaded original, not an export
    assert exported(files) == Counter({"3f9a": 1, "77b0": 1})
