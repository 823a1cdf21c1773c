"""``ils worker --processes N``: N real worker processes under a supervisor, on the test's Redis
and prefix. Both take jobs (each its own identity in the heartbeats); a child killed with -9 comes
back with a new pid and nothing is lost; SIGTERM drains them all (jobs in flight finish, exit 0);
a supervisor killed with -9 leaves no child behind; a child that keeps dying is said so; a bad
``--processes`` is an error naming the option. The restart backoff's arithmetic is checked as
properties."""

from __future__ import annotations

import contextlib
import os
import re
import signal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ils.bootstrap import JobSystem
from ils.cli_worker import WorkerArgs, parse_worker_args
from ils.queue.embedded import free_port
from ils.worker_supervisor import RestartPolicy, how_it_ended
from tests.support.processes import IlsProcess, process_ends
from tests.support.running import Records
from tests.support.waiting import until_quiet

WORKERS = ["worker", "--queues", "oma", "--import", "tests.support.handlers", "--processes", "2"]
STARTED = re.compile(r"worker process (\d)/2 started \(pid (\d+)\)")
# A child's start imports the job system: slow on a loaded machine.
START_S = 120


def one_job_each(env: dict[str, str]) -> dict[str, str]:
    """Each process holds at most one job, and a killed one's job is recovered in seconds."""
    return env | {
        "ILS_QUEUE_OMA_CONCURRENCY": "1",
        "ILS_QUEUE_OMA_LOCK_DURATION_MS": "2000",
        "ILS_QUEUE_OMA_STALLED_INTERVAL_MS": "1000",
    }


async def ready(
    supervisor: IlsProcess, slots: tuple[int, ...] = (1, 2), since: int = 0
) -> dict[int, int]:
    """Wait until the children of ``slots`` said ready (from line ``since`` on); slot -> pid of
    the children started since then."""
    for slot in slots:
        await supervisor.wait_for_line(f"(process {slot}/2)", START_S, since)
    pids: dict[int, int] = {}
    for line in supervisor.lines[since:]:
        if found := STARTED.search(line):
            pids[int(found[1])] = int(found[2])
    return pids


async def test_two_processes_each_take_jobs_under_their_own_identity(
    system: JobSystem, records: Records, worker_env: dict[str, str]
):
    supervisor = await IlsProcess(WORKERS, one_job_each(worker_env)).start()
    try:
        pids = await ready(supervisor)
        workers = await system.admin.workers()
        assert len({w.id for w in workers}) == 2
        assert {w.pid for w in workers} == set(pids.values())
        # One job at most per process: two jobs held at once are held by the two processes.
        held = [
            await system.producer.enqueue("oma", "test-probe", {"waitRelease": True, "tag": t})
            for t in ("a", "b")
        ]
        assert {await records.wait_started(15), await records.wait_started(15)} == {
            j.job_id for j in held
        }
        for job in held:
            await records.release(job.job_id)
        await until_quiet(system, ["oma"])
        assert await records.effects() == 2
    finally:
        supervisor.signal(signal.SIGTERM)
        await supervisor.wait(60)
        await supervisor.kill()


async def one_held_each(system: JobSystem, records: Records) -> list[Any]:
    """Two jobs that wait for their release, one taken by each process (concurrency 1)."""
    held = [
        await system.producer.enqueue("oma", "test-probe", {"waitRelease": True, "tag": t})
        for t in ("a", "b")
    ]
    await records.wait_started(15)
    await records.wait_started(15)
    return held


async def test_a_child_killed_with_9_comes_back_and_nothing_is_lost(
    system: JobSystem, records: Records, worker_env: dict[str, str]
):
    supervisor = await IlsProcess(WORKERS, one_job_each(worker_env)).start()
    try:
        pids = await ready(supervisor)
        held = await one_held_each(system, records)
        mark = len(supervisor.lines)
        os.kill(pids[1], signal.SIGKILL)
        died = await supervisor.wait_for_line("worker process 1 (pid", 30, mark)
        assert f"pid {pids[1]}" in died and "killed by SIGKILL" in died
        back = await ready(supervisor, (1,), mark)  # a new one said ready
        assert back[1] != pids[1]
        more = [await system.producer.enqueue("oma", "test-probe", {"tag": "m"}) for _ in range(10)]
        for job in held:
            await records.release(job.job_id)  # the killed one's job reruns without waiting
        await until_quiet(system, ["oma"], timeout_s=60)
        stats = (await system.admin.stats(["oma"]))["oma"]
        assert stats["completed"] == 12 and stats["failed"] == 0
        assert await records.effects() == 12
        assert sorted([await records.runs("oma", j.job_id) for j in held]) == [1, 2]
        assert all([await records.runs("oma", j.job_id) == 1 for j in more])
    finally:
        supervisor.signal(signal.SIGTERM)
        await supervisor.wait(60)
        await supervisor.kill()


async def test_sigterm_drains_every_child_and_the_supervisor_exits_0(
    system: JobSystem, records: Records, worker_env: dict[str, str]
):
    supervisor = await IlsProcess(WORKERS, one_job_each(worker_env)).start()
    try:
        pids = await ready(supervisor)
        held = await one_held_each(system, records)
        supervisor.signal(signal.SIGTERM)
        await supervisor.wait_for_line("SIGTERM received", 30)
        for job in held:  # in flight when the drain began: they finish
            await records.release(job.job_id)
        assert await supervisor.wait(90) == 0
        for job in held:
            assert (await system.admin.get_job("oma", job.job_id)).state == "completed"
        assert supervisor.output.count("workers stopped") == 2
        assert "all worker processes stopped" in supervisor.output
        for pid in pids.values():
            await process_ends(pid, 5)
        assert await system.admin.workers() == []
    finally:
        await supervisor.kill()


async def test_children_of_a_supervisor_killed_with_9_stop_on_their_own(
    system: JobSystem, worker_env: dict[str, str]
):
    supervisor = await IlsProcess(WORKERS, worker_env).start()
    pids: dict[int, int] = {}
    try:
        pids = await ready(supervisor)
        mark = len(supervisor.lines)
        supervisor.signal(signal.SIGKILL)
        for pid in pids.values():
            await process_ends(pid, 60)
        # They stopped as on SIGTERM (their output shares the supervisor's pipe).
        assert await supervisor.wait(30) == -signal.SIGKILL
        assert "".join(supervisor.lines[mark:]).count("workers stopped") == 2
        assert await system.admin.workers() == []
    finally:
        await supervisor.kill()
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


async def test_a_child_that_keeps_dying_is_said_so_with_its_exit_code(
    worker_env: dict[str, str], tmp_path: Path
):
    # Nothing listens on this port, and a worker waits for Redis only briefly: each child exits 1.
    config = tmp_path / "ils.toml"
    config.write_text("redis_wait_s = 0.2\n")
    env = worker_env | {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    supervisor = await IlsProcess([*WORKERS, "--config", str(config)], env).start()
    try:
        line = await supervisor.wait_for_line("keeps dying", START_S)
        assert "3 times in a row" in line and "exit code 1" in line
        supervisor.signal(signal.SIGTERM)
        assert await supervisor.wait(60) == 0
    finally:
        await supervisor.kill()


@pytest.mark.parametrize("value", ["0", "-1", "65", "two"])
async def test_a_bad_process_count_is_an_error_naming_the_option(
    value: str, worker_env: dict[str, str]
):
    process = await IlsProcess(["worker", "--processes", value], worker_env).start()
    assert await process.wait(60) == 2
    assert "--processes" in process.output and "Invalid value" in process.output


def test_the_short_way_takes_a_process_count_and_leaves_a_doubtful_one_to_typer():
    assert parse_worker_args(["--processes", "4"]) == WorkerArgs(processes=4)
    assert parse_worker_args(["--processes=1", "--queues", "oma"]) == WorkerArgs("oma")
    for doubtful in ("0", "65", "x", "", "1.5", "+2"):
        assert parse_worker_args(["--processes", doubtful]) is None, doubtful


@given(st.floats(0.01, 5), st.floats(1, 600), st.integers(1, 10_000))
def test_the_restart_delay_doubles_up_to_its_cap(first: float, cap: float, deaths: int):
    policy = RestartPolicy(first_s=first, cap_s=cap)
    assert policy.delay_s(1) == min(first, cap)
    assert policy.delay_s(deaths) <= cap
    assert policy.delay_s(deaths) <= policy.delay_s(deaths + 1)
    assert policy.delay_s(deaths + 1) in (cap, 2 * policy.delay_s(deaths))


@given(st.integers(0, 1000), st.floats(0, 1000))
def test_a_child_that_ran_healthy_starts_its_count_again(streak: int, ran_s: float):
    policy = RestartPolicy(healthy_s=60)
    after = policy.deaths_after(streak, ran_s)
    assert after == (1 if ran_s >= 60 else streak + 1)


def test_how_a_child_ended_reads_as_a_signal_or_an_exit_code():
    assert how_it_ended(-signal.SIGKILL) == "killed by SIGKILL"
    assert how_it_ended(1) == "exit code 1"
    assert how_it_ended(None) == "still running"
