"""``ils events list|replay|docs`` against a real Redis and the var directory's migrated SQLite,
and docs/events.md as generated from the catalog (a stale page fails here)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from typer.testing import CliRunner

from ils.bootstrap import JobSystem
from ils.cli import app
from ils.events.envelope import Actor
from ils.events.record import record
from ils.events.reference import render
from ils.settings import load_settings
from tests.test_admin import cli_env

PAGE = Path(__file__).resolve().parents[1] / "docs" / "events.md"


async def seed(env: dict[str, str]) -> None:
    """Three events: two orders of company 3 and one login of company 4."""
    system = JobSystem(load_settings(env))
    try:
        async with system.database.session() as session:
            for i in (1, 2):
                data = {"order_id": i, "number": f"ORD-{i}", "status": "pending",
                        "customer_name": "Ada", "total": "10.00", "line_count": 1}  # fmt: skip
                await record(session, "order.created", company_id=3, subject=("order", i),
                             data=data, actor=Actor.user(9))  # fmt: skip
            await record(session, "user.logged_in", company_id=4, subject=("user", 5),
                         data={"user_id": 5}, actor=Actor.user(5))  # fmt: skip
    finally:
        await system.close()


def test_the_committed_catalog_page_is_the_generated_one():
    assert PAGE.read_text() == render(), "run: ils events docs --output docs/events.md"


def test_events_are_listed_paged_and_replayed_from_the_command_line(worker_env: dict[str, str]):
    env = cli_env(worker_env)
    asyncio.run(seed(env))
    run = CliRunner().invoke
    listed = json.loads(run(app, ["events", "list", "--json"], env=env).output)
    assert [e["type"] for e in listed["events"]] == ["user.logged_in", "order.created",
                                                     "order.created"]  # fmt: skip
    first = json.loads(run(app, ["events", "list", "--company", "3", "--limit", "1", "--json"],
                           env=env).output)  # fmt: skip
    assert first["events"][0]["subject_id"] == "2" and first["next_cursor"]
    rest = json.loads(run(app, ["events", "list", "--company", "3", "--cursor",
                                first["next_cursor"], "--json"], env=env).output)  # fmt: skip
    assert [e["subject_id"] for e in rest["events"]] == ["1"] and rest["next_cursor"] is None
    table = run(app, ["events", "list", "--type", "order.created"], env=env)
    assert table.exit_code == 0 and "user.logged_in" not in table.output
    typo = run(app, ["events", "list", "--type", "order.craeted"], env=env)
    assert typo.exit_code == 2 and "did you mean 'order.created'" in typo.output
    window = ["--since", "2000-01-01", "--until", "2100-01-01"]
    counted = run(app, ["events", "replay", "live", *window, "--type", "order.created",
                        "--dry-run"], env=env)  # fmt: skip
    assert counted.exit_code == 0, counted.output
    assert json.loads(counted.output)["matched"] == 2
    unknown = run(app, ["events", "replay", "lve", *window], env=env)
    assert unknown.exit_code == 2 and "did you mean 'live'" in unknown.output
