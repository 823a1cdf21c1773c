"""Fixtures of the dashboard's end-to-end tests: ``ils serve`` as a real server (with the test
probes and workers for the ``oma`` queue) on its own SQLite database, and Debian's Chromium.

Chromium comes from the system (``make test`` installs Debian's package when it is missing). The
tests skip without it locally; under ``CI=true`` they fail instead. One Chromium serves the
session (each test gets a fresh browser context: its own cookies and storage), so these tests
and their async fixtures run in the session's event loop, where the browser lives: each test
module here is marked :data:`IN_SESSION_LOOP`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from playwright.async_api import Browser, Page, async_playwright, expect

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import CompanyKind, Role
from ils.domain.models.accounts import Company
from ils.queue.embedded import free_port
from ils.queue.settings import Settings
from tests.conftest import REPO, probe_registry
from tests.support.databases import open_database
from tests.support.processes import IlsProcess
from tests.web.conftest import PASSWORD, add_user

SCREENSHOTS = REPO / "test-output"
ROLES = (Role.platform_admin, Role.admin, Role.company_admin, Role.staff)
#: The ids of the users' company and of another one (a fresh database numbers them so).
OWN_COMPANY, OTHER_COMPANY = 1, 2
#: The mark of the dashboard's test modules: their tests run in the loop the browser lives in.
IN_SESSION_LOOP = pytest.mark.asyncio(loop_scope="session")
#: How long a browser test waits for what the server does (the server and Chromium share two
#: cores with other work).
WAIT_MS = 20_000


def email(role: Role) -> str:
    return f"{role.value}@dash.localhost"


@dataclass(frozen=True)
class Site:
    """A running ``ils serve`` and how to reach it."""

    url: str
    process: IlsProcess


async def _users(db: Database, password_hash: str) -> None:
    async with db.session() as s:
        company = Company(name="Clear Sight Opticians", slug="clear", kind=CompanyKind.practice)
        other = Company(name="Prism Lens Lab", slug="prism", kind=CompanyKind.lab)
        s.add(company)
        await s.flush()
        s.add(other)
        await s.flush()
        company_id = company.id
        assert (company.id, other.id) == (OWN_COMPANY, OTHER_COMPANY)
    for role in ROLES:
        await add_user(db, company_id, email(role), role, password_hash)


@pytest_asyncio.fixture(loop_scope="session")
async def site_db(tmp_path: Path, password_hash: str) -> AsyncIterator[str]:
    """A SQLite database with one user per role of :data:`ROLES`; its URL."""
    async for db in open_database("sqlite", tmp_path):
        await _users(db, password_hash)
        yield f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


async def start_site(env: dict[str, str], database_url: str) -> Site:
    port = free_port()
    env = env | {
        "DATABASE_URL": database_url,
        "ILS_IMPORTS": "tests.support.handlers",
        "ILS_SECRET_KEY": "dashboard-tests-" + "k" * 32,
    }
    process = await IlsProcess(["serve", "--port", str(port), "--queues", "oma"], env).start()
    try:
        # uvicorn says "Uvicorn running on" once its socket is bound, after the app started.
        await process.wait_for_line("Uvicorn running on")
    except BaseException:
        await process.kill()
        raise
    return Site(f"http://127.0.0.1:{port}", process)


@pytest_asyncio.fixture(loop_scope="session")
async def site(worker_env: dict[str, str], site_db: str) -> AsyncIterator[Site]:
    """The app with workers for ``oma``, sharing this test's Redis prefix."""
    served = await start_site(worker_env, site_db)
    try:
        yield served
    finally:
        await served.process.kill()


@pytest_asyncio.fixture(loop_scope="session")
async def dead_redis_site(worker_env: dict[str, str], site_db: str) -> AsyncIterator[Site]:
    """The app with nothing listening where its Redis should be."""
    env = worker_env | {"REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    served = await start_site(env, site_db)
    try:
        yield served
    finally:
        await served.process.kill()


def chromium_path() -> str:
    found = shutil.which("chromium")
    if found is None:
        message = "Debian's chromium is not installed (make test installs it)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


@pytest_asyncio.fixture(loop_scope="session")
async def system(settings: Settings) -> AsyncIterator[JobSystem]:
    """The test's job system (as in tests/conftest.py), made in the session's loop."""
    js = JobSystem(settings, registry=probe_registry())
    try:
        yield js
    finally:
        await js.close()


@pytest_asyncio.fixture(scope="session", loop_scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the session: launching it cost more than most of the tests using it."""
    path = chromium_path()
    async with async_playwright() as pw:
        # --no-sandbox: the tests may run as root (CI does), where Chromium's sandbox refuses.
        launched = await pw.chromium.launch(executable_path=path, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            await launched.close()


__all__ = [
    "IN_SESSION_LOOP",
    "OTHER_COMPANY",
    "OWN_COMPANY",
    "PASSWORD",
    "SCREENSHOTS",
    "Site",
    "email",
]


@pytest_asyncio.fixture(loop_scope="session")
async def page(browser: Browser) -> AsyncIterator[Page]:
    context = await browser.new_context(viewport={"width": 1440, "height": 900})
    try:
        yield await context.new_page()
    finally:
        await context.close()


async def log_in(page: Page, site: Site, role: Role, path: str = "/admin/queues") -> None:
    """Open ``path`` of the dashboard and sign in there as the ``role`` user; return once the
    page it lands on is wired (its script set ``data-ready``), so that a click that follows is
    not made before the page listens for it."""
    await page.goto(f"{site.url}{path}")
    await expect(page.get_by_role("button", name="Log in")).to_be_visible()
    await expect(page.locator("body")).to_have_attribute("data-ready", "true")
    await page.get_by_label("Email").fill(email(role))
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Log in").click()
    await expect(page.locator("#login-form")).to_have_count(0, timeout=WAIT_MS)
    await expect(page.locator("body")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
