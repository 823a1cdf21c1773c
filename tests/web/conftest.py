"""Web fixtures: the app on the test's database (SQLite and PostgreSQL), two companies' users.

The app runs its lifespan (without workers) around each test; clients talk to it in-process.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.enums import CompanyKind, Role
from ils.domain.models.accounts import Company, User
from ils.domain.passwords import hash_password
from ils.queue.embedded import free_port
from ils.queue.settings import Settings
from ils.settings import load_web_settings
from ils.web.app import create_app
from ils.web.settings import WebSettings
from tests.conftest import make_settings, probe_registry

PASSWORD = "correct horse battery staple"
BASE_URL = "http://localhost"


@dataclass(frozen=True)
class Accounts:
    """Company A with one active user per role plus an inactive one; company B with one user."""

    company_a: int
    company_b: int
    by_role: dict[Role, int]
    outsider: int
    inactive: int

    @staticmethod
    def email(role: Role) -> str:
        return f"{role.value}@a.localhost"


OUTSIDER_EMAIL = "staff@b.localhost"
INACTIVE_EMAIL = "gone@a.localhost"


@pytest.fixture(scope="session")
def password_hash() -> str:
    """Hashed once: Argon2 is slow on purpose."""
    return hash_password(PASSWORD)


@pytest.fixture
def web_settings(tmp_path: Path) -> WebSettings:
    return load_web_settings({}, tmp_path / "var")


async def new_user(
    s: AsyncSession,
    company_id: int,
    email: str,
    role: Role,
    password_hash: str,
    active: bool = True,
) -> int:
    """A user added in ``s``; its id."""
    user = User(
        company_id=company_id,
        email=email,
        name=email.split("@")[0],
        password_hash=password_hash,
        role=role,
        is_active=active,
    )
    s.add(user)
    await s.flush()
    return user.id


async def add_user(
    db: Database, company_id: int, email: str, role: Role, password_hash: str, active: bool = True
) -> int:
    async with db.session() as s:
        return await new_user(s, company_id, email, role, password_hash, active)


@pytest.fixture
async def accounts(db: Database, password_hash: str) -> Accounts:
    # One transaction for the lot: a commit per user cost more than the test using them.
    async with db.session() as s:
        a = Company(name="Clear Sight Opticians", slug="clear-sight", kind=CompanyKind.practice)
        b = Company(name="Prism Lens Lab", slug="prism-lab", kind=CompanyKind.lab)
        s.add_all([a, b])
        await s.flush()
        ids = (a.id, b.id)
        by_role = {
            role: await new_user(s, ids[0], Accounts.email(role), role, password_hash)
            for role in Role
        }
        outsider = await new_user(s, ids[1], OUTSIDER_EMAIL, Role.staff, password_hash)
        inactive = await new_user(
            s, ids[0], INACTIVE_EMAIL, Role.company_admin, password_hash, active=False
        )
    return Accounts(ids[0], ids[1], by_role, outsider, inactive)


async def serve(system: JobSystem, web_settings: WebSettings) -> AsyncIterator[FastAPI]:
    app = create_app(system, run_workers=False, web_settings=web_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def app(
    settings: Settings, db: Database, web_settings: WebSettings
) -> AsyncIterator[FastAPI]:
    system = JobSystem(settings, registry=probe_registry(), database=db)
    async for served in serve(system, web_settings):
        yield served


@pytest.fixture
async def app_without_redis(
    db: Database, tmp_path: Path, web_settings: WebSettings
) -> AsyncIterator[FastAPI]:
    """The app with nothing listening where its Redis should be."""
    dead = f"redis://127.0.0.1:{free_port()}/0"
    system = JobSystem(make_settings(dead, "down", tmp_path), probe_registry(), database=db)
    async for served in serve(system, web_settings):
        yield served


def make_client(app: FastAPI, ip: str = "127.0.0.1") -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(ip, 40000))
    return httpx.AsyncClient(transport=transport, base_url=BASE_URL)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app) as c:
        yield c


async def login(client: httpx.AsyncClient, email: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/auth/login", json={"email": email, "password": password})


@contextlib.asynccontextmanager
async def logged_in(
    app: FastAPI, role: Role, ip: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A client with a cookie session as the company A user of ``role``."""
    async with make_client(app, ip) as client:
        response = await login(client, Accounts.email(role))
        assert response.status_code == 200, response.text
        yield client


def csrf_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return {"X-CSRF-Token": client.cookies["ils_csrf"]}


@pytest.fixture
def api(app: FastAPI, accounts: Accounts) -> FastAPI:
    """The app, with company A and B's users in its database."""
    return app
