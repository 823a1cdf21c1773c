"""A bounded property-based run of schemathesis against the live app's OpenAPI schema: no
input it generates may cause a 5xx or a response that breaks the documented schema; then every
operation again with hostile values in its path, query and body (integers outside int64, lone
surrogates, NULs, very long strings, NaN and infinities, wrong types): still no 5xx."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error, response_schema_conformance

from ils.domain.db import Database, database_url
from ils.domain.enums import CompanyKind, Role
from ils.domain.models.accounts import Company, User
from ils.domain.passwords import hash_password
from ils.queue.embedded import free_port
from ils.web.auth.tokens import create_token
from tests.conftest import REPO, delete_prefix


async def _admin_token(url: str) -> str:
    db = Database(url)
    try:
        async with db.session() as s:
            company = Company(name="Fuzz Optics", slug="fuzz", kind=CompanyKind.practice)
            s.add(company)
            await s.flush()
            user = User(
                company_id=company.id,
                email="root@fuzz.localhost",
                name="Root",
                password_hash=hash_password("x" * 12),
                role=Role.platform_admin,
            )
            s.add(user)
            await s.flush()
            _, token = await create_token(s, user, "fuzz")
            return token
    finally:
        await db.dispose()


@pytest.fixture(scope="module")
def live_app(redis_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """``ils serve --no-workers`` on a migrated SQLite database: (base URL, bearer token)."""
    var = tmp_path_factory.mktemp("fuzz") / "var"
    prefix = f"fz{uuid.uuid4().hex[:8]}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ILS_", "REDIS_", "DATABASE"))}
    env |= {"REDIS_URL": redis_url, "ILS_REDIS_PREFIX": prefix, "ILS_VAR_DIR": str(var),
            "PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}  # fmt: skip
    # No quotas here: a 429 would stop the fuzzer's requests before the code under test.
    env |= {
        f"ILS_QUOTA_{kind}_{scope}": "none"
        for kind in ("ORDER", "PDF", "EMAIL", "AI", "BULK")
        for scope in ("USER", "COMPANY")
    }
    ils = [sys.executable, "-m", "ils"]
    subprocess.run([*ils, "db", "upgrade"], env=env, check=True, capture_output=True)
    token = asyncio.run(_admin_token(database_url(env, Path(var))))
    port = free_port()
    server = subprocess.Popen(
        [*ils, "serve", "--no-workers", "--port", str(port), "--log-level", "WARNING"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        for line in server.stdout:  # the first line says where it listens, once it can
            if "listening on" in line:
                break
        # Keep reading what it logs, so a full pipe never blocks the server mid-request.
        threading.Thread(target=server.stdout.read, daemon=True).start()
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.terminate()
        server.wait(timeout=30)
        delete_prefix(redis_url, prefix)


MAX_EXAMPLES = 15
# Streams that never end by design (tested over a real connection in tests/web/dashboard/).
ENDLESS = frozenset({"/api/queue/events"})


def test_no_input_causes_a_server_error_or_breaks_the_schema(live_app: tuple[str, str]) -> None:
    base_url, token = live_app
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", wait_for_schema=30)
    headers = {"Authorization": f"Bearer {token}"}
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        if operation.path in ENDLESS:
            continue

        @given(case=operation.as_strategy())
        @settings(
            max_examples=MAX_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case) -> None:
            case.call_and_validate(
                headers=headers,
                checks=[not_a_server_error, response_schema_conformance],
                timeout=30,
            )

        try:
            check()
        except Exception as exc:  # every operation is tried; all failures are reported
            # Hypothesis groups what a flaky case raised: report each, not only the group's name.
            found = getattr(exc, "exceptions", None) or [exc]
            failures[operation.label] = " | ".join(str(e) for e in found)[:2000]
    assert operations >= 20
    assert failures == {}


HOSTILE_EXAMPLES = 12
# Integers a 64-bit column, a 32-bit id or Python's int parser may choke on.
HUGE_INTS = [2**31, 2**63 - 1, 2**63, -(2**63) - 1, 2**64, 10**30, -1, 0, int("9" * 400)]
# Text that can travel in a URL (no lone surrogates: a URL cannot carry one).
ODD_URL_TEXT = ["\x00", "a\x00b", "x" * 5000, "%", "..", "\u202e", "\U0001f600", "' OR 1=1 --",
                "-1", "1e999999", "NaN", " ", ""]  # fmt: skip
# Text a JSON body can carry: lone surrogates too, and bodies far past any column's width.
ODD_BODY_TEXT = [*ODD_URL_TEXT, "\ud800", "tail\udfff", "\ud83d", "y" * 100_000]
ODD_BODY_VALUES = [*HUGE_INTS, *ODD_BODY_TEXT, float("nan"), float("inf"), -float("inf"),
                   1e308, None, True, [], {}, [1, "x"], {"a": {"b": [None]}}]  # fmt: skip


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict) and value:
        return [p for k, v in value.items() for p in _leaves(v, (*path, k))]
    if isinstance(value, list) and value:
        return [p for i, v in enumerate(value) for p in _leaves(v, (*path, i))]
    return [path]


def _hostile(value: Any, data: st.DataObject, choices: list[Any]) -> Any:
    """``value`` with one of its leaves replaced by one of ``choices``: the rest stays valid, so
    the hostile value gets past validation of its neighbours to wherever it can do harm."""
    path = data.draw(st.sampled_from(_leaves(value)))
    replacement = data.draw(st.sampled_from(choices))
    if not path:
        return replacement
    copy = json.loads(json.dumps(value))  # generated values are plain JSON
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = replacement
    return copy


def _mutate(case: schemathesis.Case, data: st.DataObject) -> bytes | None:
    """Put hostile values in ``case``'s path and query; the hostile JSON body, if the operation
    takes one, is returned as bytes (``\\ud800`` escapes, ``NaN``, ``Infinity``: what a client
    can send, and what schemathesis's own serializer refuses to write)."""
    url_values = [*HUGE_INTS, *ODD_URL_TEXT]
    if case.path_parameters:
        case.path_parameters = _hostile(case.path_parameters, data, url_values)
    if case.query:
        case.query = _hostile(case.query, data, url_values)
    elif data.draw(st.booleans()):  # a parameter the operation does not expect
        case.query = {"id": data.draw(st.sampled_from(url_values))}
    if not isinstance(case.body, (dict, list)):
        return None
    body = _hostile(case.body, data, ODD_BODY_VALUES)
    if isinstance(body, dict) and data.draw(st.booleans()):
        body["\ud800" + data.draw(st.sampled_from(["", "x"]))] = 1  # a hostile key
    return json.dumps(body, allow_nan=True).encode()


def test_hostile_values_never_cause_a_server_error(live_app: tuple[str, str]) -> None:
    base_url, token = live_app
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json", wait_for_schema=30)
    headers = {"Authorization": f"Bearer {token}"}
    failures: dict[str, str] = {}
    tried: set[str] = set()
    operations: set[str] = set()
    for result in schema.get_all_operations():
        operation = result.ok()
        operations.add(operation.label)
        if operation.path in ENDLESS:
            continue

        @given(case=operation.as_strategy(), data=st.data())
        @settings(
            max_examples=HOSTILE_EXAMPLES,
            phases=[Phase.generate],  # a failure is reported as found: shrinking costs minutes
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case: schemathesis.Case, data: st.DataObject) -> None:
            body = _mutate(case, data)
            tried.add(case.operation.label)
            extra = {} if body is None else {"data": body}
            response = case.call(headers=headers, timeout=30, **extra)
            assert response.status_code < 500, f"{response.status_code}: {response.text[:500]}"

        try:
            check()
        except Exception as exc:  # every operation is tried; all failures are reported
            # Hypothesis groups what a flaky case raised: report each, not only the group's name.
            found = getattr(exc, "exceptions", None) or [exc]
            failures[operation.label] = " | ".join(str(e) for e in found)[:2000]
    skipped = {label for label in operations if label.split(" ", 1)[1] in ENDLESS}
    assert tried == operations - skipped  # every route of the schema was exercised
    assert failures == {}
