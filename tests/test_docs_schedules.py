"""docs/schedules.md's runnable example, run as a reader would run it: in its own process, on
this test's Redis prefix and a migrated SQLite database."""

from __future__ import annotations

import re
import subprocess
import sys

from tests.conftest import REPO

PAGE = REPO / "docs" / "schedules.md"


def test_the_runnable_example_of_the_schedules_page_runs(worker_env: dict[str, str]):
    (code,) = re.findall(r"```python\n(.*?)```", PAGE.read_text(), re.S)
    done = subprocess.run([sys.executable, "-c", code], env=worker_env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("next run: ")
    printed = r"schedule-\d+ 30 2 \* \* 1-5 Europe/Paris \{.*'companyId': 1.*\}"
    assert any(re.fullmatch(printed, line) for line in lines), lines
