"""A bounded property-based run of schemathesis against the live app's OpenAPI schema: no
input it generates may cause a 5xx or a response that breaks the documented schema."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from ils.domain.db import Database, database_url
from ils.domain.models.accounts import Company, CompanyKind, Role, User
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
            failures[operation.label] = str(exc)[:2000]
    assert operations >= 20
    assert failures == {}
