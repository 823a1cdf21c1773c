"""Failed logins are also counted per client IP, whatever the email: a spray of random emails
from one address is refused before any password is hashed."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI

from ils.domain.enums import Role
from ils.errors import ConfigurationError
from ils.settings import load_web_settings
from ils.web.auth import routes as auth_routes
from ils.web.settings import WebSettings
from tests.web.conftest import Accounts, login, make_client

IP_LIMIT = 4


@pytest.fixture
def web_settings(tmp_path: Path) -> WebSettings:
    return load_web_settings({"ILS_LOGIN_IP_MAX_FAILURES": str(IP_LIMIT)}, tmp_path / "var")


@pytest.fixture
def hashes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The emails' logins that reached the password check (a spy: the real check still runs)."""
    seen: list[str] = []
    real = auth_routes._check_password

    def counting(password_hash: str | None, password: str) -> bool:
        seen.append(password)
        return real(password_hash, password)

    monkeypatch.setattr(auth_routes, "_check_password", counting)
    return seen


async def test_random_emails_from_one_address_are_refused_before_hashing(
    app: FastAPI, accounts: Accounts, hashes: list[str]
):
    async with make_client(app, ip="203.0.113.7") as client:
        for _ in range(IP_LIMIT):
            email = f"{uuid.uuid4().hex}@nowhere.localhost"
            assert (await login(client, email, "guess")).status_code == 401
        assert len(hashes) == IP_LIMIT
        for _ in range(3):
            email = f"{uuid.uuid4().hex}@nowhere.localhost"
            refused = await login(client, email, "guess")
            assert refused.status_code == 429
            assert 0 < int(refused.headers["retry-after"]) <= 15 * 60
        # Even a real user with the right password waits: the address is the attacker's.
        assert (await login(client, Accounts.email(Role.admin))).status_code == 429
        assert len(hashes) == IP_LIMIT  # not one more Argon2 verification
    async with make_client(app, ip="203.0.113.8") as elsewhere:
        assert (await login(elsewhere, Accounts.email(Role.admin))).status_code == 200


async def test_a_correct_login_does_not_clear_the_per_ip_count(
    app: FastAPI, accounts: Accounts, hashes: list[str]
):
    async with make_client(app, ip="203.0.113.9") as client:
        for _ in range(IP_LIMIT - 1):
            assert (await login(client, "nobody@nowhere.localhost", "x")).status_code == 401
        assert (await login(client, Accounts.email(Role.staff))).status_code == 200
        assert (await login(client, "other@nowhere.localhost", "x")).status_code == 401
        assert (await login(client, Accounts.email(Role.staff))).status_code == 429


def test_the_per_ip_limit_is_validated_at_start_up(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="ILS_LOGIN_IP_MAX_FAILURES"):
        load_web_settings({"ILS_LOGIN_IP_MAX_FAILURES": "0"}, tmp_path / "var")
