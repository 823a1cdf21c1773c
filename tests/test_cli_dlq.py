"""``ils dlq list|show|replay|discard`` and ``ils queue job|cancel`` against a real Redis and the
var directory's migrated SQLite: what the API does, from the command line."""

from __future__ import annotations

import asyncio
import json
import time

from typer.testing import CliRunner

from ils.bootstrap import JobSystem
from ils.cli import app
from ils.queue.processing import Failure
from ils.settings import load_settings
from tests.test_admin import cli_env


async def seed(env: dict[str, str]) -> list[int]:
    """Two dead letters: an invoice PDF of company 3 and a generic email of nobody's."""
    system = JobSystem(load_settings(env))
    now = int(time.time() * 1000)
    failures = [
        Failure("pdf", "invoice", "inv-5", 3, {"invoiceId": 5}, "render pool died", "...", 3, now),
        Failure("email", "generic", "mail-1", None, {"to": ["a@example.com"], "subject": "s",
                "text": "t"}, "550 unknown", "...", 3, now + 1),
    ]  # fmt: skip
    try:
        return [(await system.dead_letters.record(f))[0].id for f in failures]
    finally:
        await system.close()


def test_dead_letters_are_listed_shown_replayed_once_and_discarded(worker_env: dict[str, str]):
    env = cli_env(worker_env)
    invoice, email = asyncio.run(seed(env))
    run = CliRunner().invoke

    listed = json.loads(run(app, ["dlq", "list", "--json"], env=env).output)
    assert listed["total"] == 2 and [d["id"] for d in listed["dead_letters"]] == [email, invoice]
    only_pdf = json.loads(run(app, ["dlq", "list", "--queue", "pdf", "--json"], env=env).output)
    assert [d["job_id"] for d in only_pdf["dead_letters"]] == ["inv-5"]
    table = run(app, ["dlq", "list", "--company", "3"], env=env)
    assert table.exit_code == 0 and "inv-5" in table.output and "mail-1" not in table.output
    shown = json.loads(run(app, ["dlq", "show", str(invoice)], env=env).output)
    assert shown["payload"] == {"invoiceId": 5} and shown["company_id"] == 3

    first = run(app, ["dlq", "replay", str(invoice), str(email)], env=env)
    assert first.exit_code == 0, first.output
    assert [json.loads(line)["enqueued"] for line in first.output.splitlines()] == [True, True]
    again = run(app, ["dlq", "replay", str(invoice)], env=env)
    assert json.loads(again.output) == {"dead_letter_id": invoice, "job_id": f"dlq-{invoice}",
                                        "enqueued": False, "error": None}  # fmt: skip
    job = json.loads(run(app, ["queue", "job", "pdf", f"dlq-{invoice}"], env=env).output)
    assert job["data"] == {"invoiceId": 5} and job["state"] == "prioritized"
    stats = json.loads(run(app, ["queue", "stats", "--json"], env=env).output)
    assert stats["pdf"]["prioritized"] == 1  # replayed twice, enqueued once

    gone = run(app, ["dlq", "discard", str(email)], env=env)
    assert json.loads(gone.output) == {"discarded": email, "queue": "email", "job_id": "mail-1"}
    assert json.loads(run(app, ["dlq", "list", "--json"], env=env).output)["total"] == 1
    missing = run(app, ["dlq", "show", str(email)], env=env)
    assert missing.exit_code == 1 and f"no dead letter {email}" in missing.output


def test_a_job_not_running_yet_is_cancelled_by_removing_it(worker_env: dict[str, str]):
    env = cli_env(worker_env)
    run = CliRunner().invoke
    added = run(app, ["queue", "add", "pdf", "invoice", '{"invoiceId": 5}', "--delay", "3600"],
                env=env)  # fmt: skip
    job_id = json.loads(added.output)["id"]
    cancelled = run(app, ["queue", "cancel", "pdf", job_id], env=env)
    assert json.loads(cancelled.output) == {
        "queue": "pdf", "id": job_id, "outcome": "removed", "removed": [f"pdf/{job_id}"],
        "stopping": [], "marked": [], "left_alone": 0,
    }  # fmt: skip
    gone = run(app, ["queue", "job", "pdf", job_id], env=env)
    assert gone.exit_code == 1 and f"no job {job_id}" in gone.output


def test_bad_dlq_input_is_a_clear_error(worker_env: dict[str, str]):
    env = cli_env(worker_env)
    run = CliRunner().invoke
    bad = run(app, ["dlq", "list", "--queue", "pfd"], env=env)
    assert bad.exit_code == 2 and "did you mean 'pdf'" in bad.output
    bad = run(app, ["dlq", "list", "--since", "yesterday"], env=env)
    assert bad.exit_code == 2 and "--since" in bad.output
    bad = run(app, ["dlq", "show", "0"], env=env)
    assert bad.exit_code == 2 and "Traceback" not in bad.output
