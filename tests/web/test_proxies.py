"""X-Forwarded-For is believed only from the proxies ``ILS_TRUSTED_PROXIES`` lists (none by
default): the address the login limiter, the audit log and ``/metrics``' allow-list see."""

from __future__ import annotations

from collections.abc import AsyncIterator
from ipaddress import ip_network
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
from ils.domain.models.audit import AuditEntry
from ils.errors import ConfigurationError
from ils.settings import load_web_settings
from ils.web.proxies import forwarded_client
from tests.web.conftest import Accounts, login, make_client, serve

PROXY = "10.1.2.3"
PROXIES = [ip_network("10.0.0.0/8"), ip_network("fd00::/8")]


@pytest.mark.parametrize(
    ("peer", "forwarded", "client"),
    [
        ("203.0.113.5", ["127.0.0.1"], "203.0.113.5"),  # not a proxy: its header is ignored
        (PROXY, ["198.51.100.7"], "198.51.100.7"),
        (PROXY, ["127.0.0.1", "198.51.100.7"], "198.51.100.7"),  # the left end is the client's
        (PROXY, ["198.51.100.7", "10.9.9.9"], "198.51.100.7"),  # through two of our proxies
        (PROXY, ["10.9.9.9", "10.8.8.8"], "10.9.9.9"),  # only proxies: the farthest one
        (PROXY, ["198.51.100.7", "not-an-ip"], PROXY),  # garbage: trust nothing beyond it
        ("fd00::1", ["2001:db8::5"], "2001:db8::5"),
    ],
)
def test_the_client_is_the_nearest_address_not_a_trusted_proxy(
    peer: str, forwarded: list[str], client: str
):
    assert forwarded_client(peer, forwarded, PROXIES) == client


def test_without_trusted_proxies_the_header_is_never_believed():
    assert forwarded_client("127.0.0.1", ["198.51.100.7"], []) == "127.0.0.1"


def test_trusted_proxies_are_validated_at_start_up(tmp_path: Path):
    settings = load_web_settings({"ILS_TRUSTED_PROXIES": "10.0.0.0/8, ::1"}, tmp_path / "var")
    assert [str(n) for n in settings.trusted_proxies] == ["10.0.0.0/8", "::1/128"]
    assert load_web_settings({}, tmp_path / "var").trusted_proxies == ()
    with pytest.raises(ConfigurationError, match="ILS_TRUSTED_PROXIES"):
        load_web_settings({"ILS_TRUSTED_PROXIES": "10.0.0.0/33"}, tmp_path / "var")


@pytest.fixture
async def behind_proxy(app: FastAPI, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """The same job system and database, served by an app that trusts 10.0.0.0/8."""
    system: JobSystem = app.state.system
    env = {"ILS_TRUSTED_PROXIES": "10.0.0.0/8"}
    async for served in serve(system, load_web_settings(env, tmp_path / "proxied")):
        yield served


async def _login_ips(app: FastAPI) -> list[str | None]:
    async with app.state.system.database.session() as session:
        rows = await session.scalars(
            select(AuditEntry.ip).where(AuditEntry.action == "auth.login").order_by(AuditEntry.id)
        )
        return list(rows)


def xff(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address}


async def test_by_default_a_forged_header_changes_nothing(app: FastAPI, accounts: Accounts):
    async with make_client(app, ip="203.0.113.5") as outside:
        forged = await outside.get("/metrics", headers=xff("127.0.0.1"))
        assert forged.status_code == 403  # the allow-list sees the peer, not the header
        outside.headers.update(xff("198.51.100.99"))
        assert (await login(outside, Accounts.email(Role.admin))).status_code == 200
    assert await _login_ips(app) == ["203.0.113.5"]
    async with make_client(app, ip="203.0.113.5") as attacker:
        attacker.headers.update(xff("198.51.100.1"))
        for _ in range(5):
            assert (await login(attacker, Accounts.email(Role.staff), "wrong")).status_code == 401
        attacker.headers.update(xff("198.51.100.2"))  # a new header is no way around the limit
        assert (await login(attacker, Accounts.email(Role.staff))).status_code == 429


async def test_behind_a_trusted_proxy_the_forwarded_client_is_used(
    behind_proxy: FastAPI, accounts: Accounts
):
    async with make_client(behind_proxy, ip=PROXY) as proxy:
        proxy.headers.update(xff("198.51.100.23"))
        assert (await login(proxy, Accounts.email(Role.admin))).status_code == 200
        assert (await proxy.get("/metrics")).status_code == 403  # a remote client, not loopback
        proxy.headers.update(xff("127.0.0.1"))
        assert (await proxy.get("/metrics")).status_code == 200
    assert await _login_ips(behind_proxy) == ["198.51.100.23"]
    async with make_client(behind_proxy, ip=PROXY) as proxy:
        proxy.headers.update(xff("198.51.100.40"))
        for _ in range(5):
            assert (await login(proxy, Accounts.email(Role.staff), "wrong")).status_code == 401
        assert (await login(proxy, Accounts.email(Role.staff))).status_code == 429
        proxy.headers.update(xff("198.51.100.41"))  # another client behind the same proxy
        assert (await login(proxy, Accounts.email(Role.staff))).status_code == 200
