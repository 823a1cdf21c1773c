"""The docs' examples run: ``docs/examples/failures.py`` (dead letters, replay, cancellation) on
the test's Redis prefix and a migrated database, and docs/failures.md quotes it as it is."""

from __future__ import annotations

from pathlib import Path

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from tests.conftest import REPO, make_settings, probe_registry

EXAMPLE = REPO / "docs" / "examples" / "failures.py"
PAGE = REPO / "docs" / "failures.md"


async def test_the_failures_example_runs_as_the_page_says(
    redis_url: str, prefix: str, tmp_path: Path, db: Database
):
    from docs.examples import failures

    registry = probe_registry(("docs.examples.failures",))
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), registry, database=db)
    try:
        seen = await failures.main(system)
    finally:
        await system.close()
    assert seen == {
        "dead_letter": {"reason": "card declined twice for 4200 cents", "attempts": 2},
        "replays": [seen["replays"][0], seen["replays"][0], False],
        "cancel": ["cancelling", "cancelled", seen["cancel"][2]],
        "not_yet_running": "removed",
    }
    assert seen["replays"][0].startswith("dlq-")
    assert seen["cancel"][2].startswith("cancelled at step ")


def test_the_page_quotes_the_example_whole():
    assert EXAMPLE.read_text() in PAGE.read_text()
