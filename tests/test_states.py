"""The job states are declared once (ils.queue.states): no other module of src/ writes a list of
them, and the API, the stats and the dashboard offer exactly the declared ones."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from ils.queue import states
from ils.queue.states import COUNT_STATES, COUNTED_STATES, FINAL_STATES, LIST_STATES, check_state

SRC = Path(__file__).resolve().parents[1] / "src" / "ils"
NAMES = {*LIST_STATES, "paused"}
JS_LIST = re.compile(r"\[[^\[\]]*\]")


def literal_lists(path: Path) -> list[tuple[int, list[str]]]:
    """Each list, tuple or set literal (and each Literal[...]) of two or more state names."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Tuple | ast.List | ast.Set):
            names = [e.value for e in node.elts if isinstance(e, ast.Constant)]
            if len([n for n in names if n in NAMES]) >= 2:
                found.append((node.lineno, names))
    return found


def test_no_module_but_states_writes_a_list_of_job_states():
    offenders = {
        f"{path.relative_to(SRC)}:{line}": names
        for path in SRC.rglob("*.py")
        if path.name != "states.py"
        for line, names in literal_lists(path)
    }
    for path in SRC.rglob("*.js"):
        for match in JS_LIST.finditer(path.read_text()):
            quoted = set(re.findall(r'"([a-z-]+)"', match.group()))
            if len(quoted & NAMES) >= 2:
                offenders[str(path.relative_to(SRC))] = sorted(quoted)
    assert offenders == {}


def test_the_declared_lists_agree():
    assert set(COUNTED_STATES) < set(LIST_STATES)
    assert (*COUNTED_STATES, "paused") == COUNT_STATES
    assert set(FINAL_STATES) == {"completed", "failed"} and set(FINAL_STATES) < set(COUNTED_STATES)
    assert literal_lists(Path(states.__file__))  # the one place they are written


def test_check_state_names_the_valid_states():
    assert check_state("waiting-children") == "waiting-children"
    with pytest.raises(ValueError, match="valid: waiting, active"):
        check_state("wait")
