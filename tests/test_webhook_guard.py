"""The SSRF guard's address rules (IPv4, IPv6, IPv4 inside IPv6, metadata), the allow-list, and
names resolved before they are judged (a name resolving to loopback is refused)."""

from __future__ import annotations

from ipaddress import ip_address, ip_network

import pytest

from ils.jobs.webhooks.guard import RefusedAddress, check_url, refusal, resolve

REFUSED = [
    "127.0.0.1", "127.8.9.10", "10.0.0.1", "172.16.5.4", "192.168.1.1", "169.254.169.254",
    "169.254.1.1", "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "255.255.255.255",
    "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1",
    "::ffff:10.0.0.1", "::ffff:169.254.169.254", "2002:7f00:1::",
]  # fmt: skip
ALLOWED = ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", REFUSED)
def test_private_and_special_addresses_are_refused(address: str) -> None:
    assert refusal(ip_address(address)) is not None


@pytest.mark.parametrize("address", ALLOWED)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ip_address(address)) is None


def test_the_allow_list_admits_on_premise_receivers() -> None:
    allow = [ip_network("10.20.0.0/16")]
    assert refusal(ip_address("10.20.3.4"), allow) is None
    assert refusal(ip_address("10.21.3.4"), allow) is not None
    assert refusal(ip_address("::ffff:10.20.3.4"), allow) is None


async def test_names_are_judged_by_what_they_resolve_to() -> None:
    with pytest.raises(RefusedAddress, match="loopback"):
        await resolve("localhost", 443)
    local = [ip_network("127.0.0.0/8"), ip_network("::1/128")]
    assert str(await resolve("localhost", 443, local)) in ("127.0.0.1", "::1")
    with pytest.raises(RefusedAddress, match="metadata"):
        await resolve("169.254.169.254", 80)


def test_urls_must_be_https_except_to_allow_listed_addresses() -> None:
    assert check_url("https://receiver.example/hook")
    assert check_url("http://127.0.0.1:8080/hook", [ip_network("127.0.0.1/32")])
    for bad in ("http://receiver.example/", "https://10.0.0.1/", "https://[::1]/", "file:///x"):
        with pytest.raises(ValueError):
            check_url(bad)
