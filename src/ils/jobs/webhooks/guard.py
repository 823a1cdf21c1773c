"""The SSRF guard of outgoing webhooks: which addresses a delivery may connect to, checked after
DNS resolution, and the URL rules an endpoint must follow when it is saved.

Refused: loopback, private (RFC 1918, unique-local), shared (100.64/10), link-local, multicast,
unspecified, reserved and the cloud metadata addresses, in IPv4 and IPv6, an IPv4-mapped or
6to4/Teredo IPv6 address judged by the IPv4 address inside. The allow-list
(:class:`~ils.jobs.webhooks.settings.WebhookSettings.allow`) admits on-premise receivers. Every
address a name resolves to must pass; the sender then connects to the address checked here, so
no second resolution can move it (no DNS rebinding window). Redirects are never followed.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Sequence
from ipaddress import IPv4Address, IPv6Address, ip_address, ip_network
from urllib.parse import urlsplit

from ils.errors import IlsJobsError
from ils.jobs.webhooks.settings import Network

Address = IPv4Address | IPv6Address

# The cloud providers' instance metadata services (AWS, GCP, Azure, Oracle, Alibaba; AWS's IPv6).
METADATA = frozenset(
    ip_address(a) for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)
SHARED = ip_network("100.64.0.0/10")


class RefusedAddress(IlsJobsError):
    """A webhook URL names, or resolves to, an address deliveries may not reach."""


def _embedded_v4(address: IPv6Address) -> IPv4Address | None:
    return address.ipv4_mapped or address.sixtofour or (address.teredo or (None, None))[1]


def refusal(address: Address, allow: Sequence[Network] = ()) -> str | None:
    """Why ``address`` may not be reached (None: it may)."""
    if any(address in net for net in allow):
        return None
    if isinstance(address, IPv6Address) and (inner := _embedded_v4(address)) is not None:
        why = refusal(inner, allow)
        return f"{why} (inside {address})" if why else None
    if address in METADATA:
        return f"{address} is a cloud metadata address"
    checks = (
        ("loopback", address.is_loopback),
        ("unspecified", address.is_unspecified),
        ("link-local", address.is_link_local),
        ("multicast", address.is_multicast),
        ("private", address.is_private or (isinstance(address, IPv4Address) and address in SHARED)),
        ("reserved", address.is_reserved),
        ("not globally routable", not address.is_global),
    )
    for kind, hit in checks:
        if hit:
            return f"{address} is a {kind} address"
    return None


def literal(host: str) -> Address | None:
    """``host`` as an IP address when it is one (brackets of an IPv6 literal allowed)."""
    try:
        return ip_address(host.strip("[]"))
    except ValueError:
        return None


def check_url(url: str, allow: Sequence[Network] = ()) -> str:
    """``url`` when an endpoint may have it: https (http only to an allow-listed address), a host,
    no credentials; an IP literal must pass :func:`refusal`. Raises ``ValueError`` saying why
    (names are resolved at each delivery, not here: DNS may change)."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http"):
        raise ValueError("must be an https URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    if parts.username or parts.password:
        raise ValueError("must not carry a user name or password")
    address = literal(parts.hostname)
    allowed = address is not None and any(address in net for net in allow)
    if parts.scheme == "http" and not allowed:
        raise ValueError("must be an https URL (http only to an allow-listed address)")
    if address is not None and (why := refusal(address, allow)):
        raise ValueError(f"refused: {why}")
    return url


async def resolve(host: str, port: int, allow: Sequence[Network] = ()) -> Address:
    """The address to connect to for ``host``: every address it resolves to must pass (a name
    resolving to one public and one private address is refused). Raises :class:`RefusedAddress`
    naming the address, or ``OSError`` when the name does not resolve."""
    found = literal(host)
    if found is not None:
        addresses = [found]
    else:
        infos = await asyncio.get_running_loop().getaddrinfo(
            host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
        )
        addresses = list(dict.fromkeys(ip_address(info[4][0]) for info in infos))
    for address in addresses:
        if why := refusal(address, allow):
            raise RefusedAddress(f"{host} refused: {why}")
    if not addresses:
        raise OSError(f"{host} resolves to no address")
    return addresses[0]
