"""The documentation site: the generated reference pages match the code (settings, commands,
routes), and ``mkdocs build --strict`` passes — a broken link, a missing snippet or a page left
out of the navigation fails it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from docs import generate

from tests.conftest import REPO


@pytest.mark.parametrize("name", sorted(generate.PAGES))
def test_the_committed_reference_page_is_what_the_code_generates(name: str):
    committed = (REPO / "docs" / "reference" / name).read_text()
    assert committed == generate.PAGES[name](), (
        f"docs/reference/{name} is stale: run `make docs-reference`"
    )


def test_every_setting_has_a_row_in_the_settings_reference():
    from ils.settings_sources import ENV_PATHS

    page = (REPO / "docs" / "reference" / "settings.md").read_text()
    assert [env for env in ENV_PATHS if f"`{env}`" not in page] == []


def test_the_quick_start_lists_every_demo_login():
    from ils.domain.demo import USERS, demo_email, demo_password

    page = (REPO / "docs" / "quickstart.md").read_text()
    for key, role, _ in USERS:
        assert f"`{demo_email(role, key)}` | `{demo_password(role)}`" in page, role


def test_the_site_builds_strictly(tmp_path: Path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    built = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr[-4000:]
    assert (tmp_path / "index.html").is_file()
    assert (tmp_path / "reference" / "settings" / "index.html").is_file()
    concepts = (tmp_path / "guide" / "concepts" / "index.html").read_text()
    assert "queue_lens_label" in concepts  # the example was included, not linked


def test_the_index_links_every_security_and_operations_page():
    import yaml

    nav = yaml.safe_load((REPO / "mkdocs.yml").read_text())["nav"]
    operations = next(item["Operations"] for item in nav if "Operations" in item)
    pages = [next(iter(entry.values())) for entry in operations]
    pages += ["security.md", "reference/metrics.md"]
    index = (REPO / "docs" / "index.md").read_text()
    section = index[index.index("## Security and operations") :]
    assert [page for page in pages if f"]({page})" not in section] == []
