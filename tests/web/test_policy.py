"""The role-by-action table: docs/security.md shows exactly the one in ``ils.web.auth.policy``,
every domain route names exactly one of its actions, and no action is left without a route."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.routing import APIRoute

from ils.bootstrap import JobSystem
from ils.domain.models import DocumentEntity, Role
from ils.settings import load_web_settings
from ils.web.app import create_app
from ils.web.auth.policy import DOCUMENT_READ, POLICY, allows, markdown_table, permit
from tests.conftest import make_settings

DOC = Path(__file__).resolve().parents[2] / "docs" / "security.md"
BEGIN, END = "<!-- policy table:", "<!-- end of policy table -->"
# Enforced by the queue admin layer with its company filter, not by a route's permit().
QUEUE_ACTIONS = {"queue.monitor", "queue.jobs", "queue.dead_letters", "queue.operate"}
# Routes every signed-in user has for their own account, and the queue admin API.
OUTSIDE_THE_TABLE = ("/api/auth/", "/api/queue/")
# Checked once the row is loaded: a document needs the read action of what it shows.
PER_ROW = {"/api/documents/{document_id}"}


def test_the_security_page_shows_the_policy_table_as_the_code_has_it():
    text = DOC.read_text()
    start = text.index("\n", text.index(BEGIN)) + 1
    assert text[start : text.index(END)].strip() == markdown_table()


def _routes(routes: Any) -> Iterator[APIRoute]:
    for route in routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from _routes(inner.routes)
        elif isinstance(route, APIRoute):
            yield route


def _permits(dependant: Any) -> list[str]:
    found = []
    for dep in dependant.dependencies:
        name = getattr(dep.call, "__name__", "")
        if name.startswith("permit("):
            found.append(name.removeprefix("permit(").removesuffix(")"))
        found += _permits(dep)
    return found


@pytest.fixture
def domain_routes(redis_url: str, prefix: str, tmp_path: Path) -> list[APIRoute]:
    system = JobSystem(make_settings(redis_url, prefix, tmp_path))
    web = load_web_settings({}, tmp_path / "var")
    app = create_app(system, run_workers=False, web_settings=web)
    return [
        r
        for r in _routes(app.routes)
        if r.path.startswith("/api/") and not r.path.startswith(OUTSIDE_THE_TABLE)
    ]


def test_every_domain_route_names_one_action_and_every_action_has_a_route(domain_routes):
    used = set()
    for route in domain_routes:
        if route.path in PER_ROW:
            continue
        actions = set(_permits(route.dependant))
        assert len(actions) == 1, f"{sorted(route.methods)} {route.path}: {sorted(actions)}"
        used |= actions
    assert set(POLICY) - used == QUEUE_ACTIONS


def test_money_and_clinical_records_stay_with_their_roles():
    # the rules issue 13 names, read straight off the table
    admins = {Role.platform_admin, Role.admin, Role.company_admin}
    for action in ("invoices.issue", "products.write", "suppliers.write", "purchasing.send"):
        assert POLICY[action].roles == admins, action
    assert POLICY["examinations.record"].roles == {Role.optometrist}
    assert allows(Role.lab_technician, "orders.status")
    assert not allows(Role.lab_technician, "patients.read")
    assert not allows(Role.staff, "examinations.read")
    assert set(DOCUMENT_READ) == set(DocumentEntity)


def test_an_action_missing_from_the_table_fails_at_import_not_at_request():
    with pytest.raises(KeyError, match=r"unknown action 'invoices\.void'"):
        permit("invoices.void")
