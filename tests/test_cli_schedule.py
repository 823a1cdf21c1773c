"""``ils schedule list|add|pause|resume|remove|run-now`` on a migrated SQLite database and real
Redis: each change's sync reaches the scheduled queue before the command returns; bad input
fails with exit 2 naming the option; ``ils queue info`` lists the scheduled queue's job types."""

from __future__ import annotations

import json
from typing import Any

import redis
from typer.testing import CliRunner

from ils.cli import app

runner = CliRunner()


def ils(env: dict[str, str], *args: str) -> Any:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return json.loads(result.output) if result.output.strip().startswith(("{", "[")) else None


def waiting(env: dict[str, str], queue: str) -> list[str]:
    client = redis.Redis.from_url(env["REDIS_URL"], decode_responses=True)
    try:
        prefix = env["ILS_REDIS_PREFIX"]
        return [str(i) for i in client.lrange(f"{prefix}:{queue}:wait", 0, -1)]
    finally:
        client.close()


def test_a_schedule_is_added_listed_paused_resumed_run_and_removed(worker_env: dict[str, str]):
    env = worker_env
    added = ils(env, "schedule", "add", "nightly cleanup", "retention", "--every", "7200",
                "--missed", "skip")  # fmt: skip
    assert (added["job_type"], added["every_s"], added["missed_run"]) == ("retention", 7200, "skip")
    assert added["company_id"] is None and added["next_run_at"]
    # The sync went through the outbox to the scheduled queue before the command returned.
    assert len(waiting(env, "scheduled")) == 1
    listed = ils(env, "schedule", "list", "--json")
    # The migrations gave the platform its hourly retention and schedulers' sync.
    assert [(r["name"], r["cron"]) for r in listed] == [
        ("retention", "0 * * * *"),
        ("schedules sync", "30 * * * *"),
        ("nightly cleanup", None),
    ]
    sid = str(added["id"])
    assert ils(env, "schedule", "pause", sid)["enabled"] is False
    assert ils(env, "schedule", "resume", sid)["enabled"] is True
    ran = ils(env, "schedule", "run-now", sid)
    assert ran["queue"] == "scheduled" and ran["id"].startswith(f"schedule-{sid}-now-")
    assert ran["id"] in waiting(env, "scheduled")
    assert ils(env, "schedule", "remove", sid) == {"removed": int(sid)}
    listed = [r["name"] for r in ils(env, "schedule", "list", "--json")]
    assert listed == ["retention", "schedules sync"]
    table = runner.invoke(app, ["schedule", "list"], env=env)
    assert table.exit_code == 0 and "schedules" in table.output


def test_bad_input_fails_naming_the_option(worker_env: dict[str, str]):
    cases = [
        (["nightly", "retention", "--cron", "0 25 * * *"], "--cron"),
        (["nightly", "no-such-job", "--cron", "0 2 * * *"], "JOB_TYPE"),
        (["nightly", "retention", "--cron", "0 2 * * *", "--timezone", "Mars/Base"],
         "--timezone"),
        (["nightly", "retention", "--cron", "0 2 * * *", "--missed", "twice"], "--missed"),
        (["nightly", "retention"], "--cron"),
        (["nightly", "daily-briefing", "--cron", "0 2 * * *", "--company", "999"], "--company"),
        (["nightly", "retention", "--cron", "0 2 * * *", "--payload", "[1"], "--payload"),
    ]  # fmt: skip
    for args, option in cases:
        result = runner.invoke(app, ["schedule", "add", *args], env=worker_env)
        assert result.exit_code == 2, (args, result.output)
        assert f"error: {option}" in result.output, (args, result.output)
    gone = runner.invoke(app, ["schedule", "pause", "4242"], env=worker_env)
    assert gone.exit_code == 2 and "no schedule 4242" in gone.output


def test_queue_info_lists_the_scheduled_queues_job_types(worker_env: dict[str, str]):
    info = ils(worker_env, "queue", "info", "--json")
    names = {t["name"] for t in info["job_types"] if t["queue"] == "scheduled"}
    assert names == {"sync-schedules", "nightly-anomaly-scan", "weekly-demand-forecast",
                     "daily-briefing", "failed-jobs-digest", "retention"}  # fmt: skip
