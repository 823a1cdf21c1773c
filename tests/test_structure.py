"""The shape of the code: small modules, the layers importing only downwards, and an
architecture page that names every module."""

from __future__ import annotations

import ast
import importlib
import re

from tests.support.modules import PAGE, SRC, modules, named_in, source_files

MAX_LINES = 400

#: Layer -> what it must never import. The job system knows nothing of the ILS; the domain and
#: the handlers know nothing of the web app; the bottom modules (logging, files) nothing above.
FORBIDDEN = {
    "ils.queue": ("ils.jobs", "ils.domain", "ils.web", "ils.bootstrap", "ils.cli"),
    "ils.domain": ("ils.web", "ils.bootstrap", "ils.cli"),
    "ils.jobs": ("ils.web", "ils.bootstrap", "ils.cli"),
    "ils.events": ("ils.web", "ils.bootstrap", "ils.cli"),
    "ils.logs": ("ils.jobs", "ils.domain", "ils.web", "ils.bootstrap", "ils.cli"),
    "ils.files": ("ils.jobs", "ils.domain", "ils.web", "ils.bootstrap", "ils.cli"),
}


def imported(source: str) -> set[str]:
    """Every absolute module name ``source`` imports, at the top, in functions or under
    ``TYPE_CHECKING`` alike."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def within(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def test_no_module_is_over_400_lines():
    long = {
        str(path): lines
        for path in source_files()
        if (lines := len((SRC / path).read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them along their ideas): {long}"


def test_every_layer_imports_only_what_lies_below_it():
    wrong = []
    for module in modules():
        for layer, banned in FORBIDDEN.items():
            if not within(module.name, layer):
                continue
            for name in sorted(imported((SRC / module.path).read_text())):
                wrong += [f"{module.name} imports {name}" for b in banned if within(name, b)]
    assert not wrong, wrong


def test_relative_imports_are_not_used_to_cross_layers():
    """The layer check reads absolute imports; a relative one could hide a crossing."""
    relative = [
        str(path)
        for path in source_files()
        for node in ast.walk(ast.parse((SRC / path).read_text()))
        if isinstance(node, ast.ImportFrom) and node.level > 1
    ]
    assert not relative, relative


def test_the_architecture_page_names_every_module():
    page = PAGE.read_text()
    missing = [m.name for m in modules() if not named_in(page, m.name)]
    assert not missing, (
        "docs/architecture.md does not name these modules (run `python -m tests.support.modules` "
        f"to regenerate its module table, and place new ones in the prose): {missing}"
    )


def test_the_page_names_no_module_that_is_gone():
    """Every ``ils.x.y`` the page writes is a module, or a name defined in one."""
    page = PAGE.read_text()
    known = {m.name for m in modules()}
    stale = []
    for name in sorted(set(re.findall(r"(?<![\w.])ils(?:\.\w+)+", page)) - known):
        parent, attr = name.rsplit(".", 1)
        if parent not in known or not hasattr(importlib.import_module(parent), attr):
            stale.append(name)
    assert not stale, f"docs/architecture.md names modules that do not exist: {stale}"
