"""docs/oma.md's example runs and is quoted whole; the package stays light to import."""

from __future__ import annotations

import json
import subprocess
import sys

from ils.oma import Record
from tests.conftest import REPO

EXAMPLE = REPO / "docs" / "examples" / "oma.py"
PAGE = REPO / "docs" / "oma.md"


def test_the_oma_example_runs_as_the_page_says():
    from docs.examples import oma

    seen = oma.main()
    assert seen["job"] == "ORD-1042"
    assert seen["sph"] == ("-2.25", None)
    assert seen["vendor"] == Record("_LABNOTE", ("rush", "keep cool"))
    assert seen["issues"] == []
    assert seen["hbox_vbox_ed"] == (40.0, 40.0, 40.0)
    assert seen["hbox_check"] == [("HBOX", "R", 40.0, 40.0, True)]
    assert seen["lenses_drawn"] == ["R"]
    assert seen["svg_starts"] == "<svg"
    assert seen["export"] == [
        "JOB=ORD-1042",
        "SPH=-2.25;",
        "TRCFMT=1;4;E;R;F",
        "R=2000;1500;2000;1500",
    ]
    assert seen["refused"] == "line 2, label TRCFMT: unsupported trace format 4"


def test_the_page_quotes_the_example_whole():
    assert EXAMPLE.read_text() in PAGE.read_text()


def _loaded_after(imports: str) -> set[str]:
    code = f"import sys, json; {imports}; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return set(json.loads(out.stdout))


def test_the_package_loads_only_the_standard_library_and_ils_errors():
    before = _loaded_after("pass")
    added = (
        _loaded_after("import ils.oma, ils.oma.validate, ils.oma.geometry, ils.oma.render") - before
    )
    outside = {
        name.split(".")[0] for name in added if name.split(".")[0] not in sys.stdlib_module_names
    }
    assert outside == {"ils"}, outside
    ours = {name for name in added if name.startswith("ils.") and not name.startswith("ils.oma")}
    assert ours == {"ils.errors"}


def test_the_page_lists_every_label_the_catalog_checks():
    from ils.oma.catalog import LABELS

    page = PAGE.read_text()
    missing = [name for name in LABELS if f"| `{name}` |" not in page]
    assert not missing, f"docs/oma.md's table of records lacks {missing}"
