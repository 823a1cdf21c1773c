"""docs/troubleshooting.md stays true: every entry is a symptom with causes, checks and fixes,
each entry names a command or a route that diagnoses it, every ``ils`` command it names parses
against the real command tree (a renamed command or option fails here), every route it names is
one of the app's, and the read-only commands run against a real Redis and a migrated database."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from ils.cli import app
from ils.jobs import build_registry
from ils.queue.payload_example import example_data
from tests.conftest import REPO
from tests.support.cli_commands import PLACEHOLDER, USAGE_ERROR, resolve
from tests.test_admin import cli_env

PAGE = (REPO / "docs" / "troubleshooting.md").read_text()
COMMAND = re.compile(r"`(ils [^`]+)`")
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s?]*)")
#: Commands that only read: the test runs each one the page names, placeholders filled in.
READ_ONLY = {
    ("queue", "health"), ("queue", "stats"), ("queue", "info"), ("queue", "job"),
    ("flow", "show"), ("dlq", "list"), ("db", "current"), ("embedded", "status"),
}  # fmt: skip
SHELL_BLOCK = re.compile(r"```sh\n(.*?)```", re.S)


def entries() -> dict[str, str]:
    """Each ``## `` section by its title."""
    return {part.split("\n", 1)[0]: part for part in PAGE.split("\n## ")[1:]}


def commands() -> list[str]:
    """Every ``ils`` command the page names, in a row or in its opening block, once each."""
    found = [m.group(1) for m in COMMAND.finditer(PAGE)]
    for block in SHELL_BLOCK.findall(PAGE):
        found += [
            line.split("#")[0].strip() for line in block.splitlines() if line.startswith("ils ")
        ]
    return sorted(set(found))


def test_every_entry_says_cause_check_and_fix_and_names_a_diagnosis():
    found = entries()
    for needed in ("Jobs stuck in waiting", "Jobs stuck in active", "Delayed jobs run late",
                   "Redis is down, out of memory, or refuses writes",
                   "Emails are rejected or never arrive", "Duplicate emails",
                   "PDFs show empty boxes, or PDF jobs fail on the font",
                   "AI jobs fail: provider errors", "The outbox keeps growing",
                   "Live notifications do not update behind a proxy",
                   'SQLite: "database is locked"'):  # fmt: skip
        assert needed in found, needed
    for title, body in found.items():
        if title.startswith("Requests answer"):
            continue
        assert "| cause | check | fix |" in body, title
        rows = [line for line in body.splitlines() if line.startswith("| ") and "---" not in line]
        for row in rows[1:]:
            check = row.split(" | ")[1]
            assert "`" in check or "dashboard" in check or "developer tools" in check, row
        assert COMMAND.search(body) or ROUTE.search(body), f"{title}: names no command or route"


def test_every_command_named_parses_against_the_command_tree():
    named = commands()
    assert len(named) >= 5, named  # the page names its diagnosis commands (not a vacuous pass)
    paths = {resolve(command, {})[0] for command in named}
    assert ("queue", "stats") in paths, paths


def test_every_route_named_is_one_of_the_apps():
    """Checked against the HTTP reference, which a test keeps equal to the app's schema, and
    the WebSocket router (sockets are not in the schema)."""
    from ils.web.routes.websocket import router

    api = (REPO / "docs" / "reference" / "api.md").read_text()
    served = {(m, re.sub(r"\{[^}]+\}", "{}", p))
              for m, p in re.findall(r"^\| (\w+) \| `([^`]+)` \|", api, re.M)}  # fmt: skip
    served |= {("GET", route.path) for route in router.routes}  # type: ignore[attr-defined]
    named = {(m.group(1), m.group(2)) for m in ROUTE.finditer(PAGE)}
    assert len(named) >= 8
    for method, path in sorted(named):
        shape = PLACEHOLDER.sub("{}", path)
        if (method, shape) not in served:  # an action in the path: pause, resume
            shape = re.sub(r"/(resume|pause)$", "/{}", shape)
        assert (method, shape) in served, f"{method} {path}"


def test_the_read_only_commands_run(worker_env: dict[str, str]):
    env = cli_env(worker_env)
    run = CliRunner().invoke
    ids = {}  # one job on each queue the page names, from the job types' examples
    for job_type in build_registry():
        if job_type.queue in ("email", "pdf", "ai") and job_type.queue not in ids:
            data = json.dumps(example_data(job_type.schema()))
            added = run(app, ["queue", "add", job_type.queue, job_type.name, data], env=env)
            assert added.exit_code == 0, added.output
            ids[job_type.queue] = json.loads(added.output)["id"]
    values = {"<queue>": "email", "<job_id>": "JOB"}
    ran = set()
    for command in commands():
        path, args = resolve(command, values)
        if path not in READ_ONLY:
            continue
        args = [ids[args[0]] if a == "JOB" else a for a in args]
        result = run(app, [*path, *args], env=env)
        assert result.exception is None or isinstance(result.exception, SystemExit), command
        assert result.output.strip(), command
        if path == ("embedded", "status"):  # Redis is the test's: it says no embedded one is used
            assert "REDIS_URL" in result.output and "no embedded server" in result.output
        else:
            assert result.exit_code == 0, f"`{command}`: {result.output}"
        if "--json" in args:
            json.loads(result.output)
        ran.add(path)
    assert ran == READ_ONLY
    health = json.loads(run(app, ["queue", "health", "--json"], env=env).output)
    assert health["maxmemory_policy"] == "noeviction"
    assert isinstance(health["maxmemory_bytes"], int)


@pytest.mark.parametrize("bad", ["ils queue healthy", "ils dlq list --queues email"])
def test_a_renamed_command_or_option_fails_the_check(bad: str):
    with pytest.raises((AssertionError, USAGE_ERROR)):
        resolve(bad, {})
