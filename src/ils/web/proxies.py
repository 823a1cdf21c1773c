"""The client's address: the TCP peer, or what X-Forwarded-For says when the peer is a trusted
proxy (``ILS_TRUSTED_PROXIES``, none by default). The login limiter, quotas, the audit log and
``/metrics``' allow-list all read it from the ASGI scope this middleware sets.
"""

from __future__ import annotations

from collections.abc import Sequence
from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

from starlette.types import ASGIApp, Receive, Scope, Send

Network = IPv4Network | IPv6Network


def _parse(text: str) -> IPv4Address | IPv6Address | None:
    try:
        return ip_address(text.strip())
    except ValueError:
        return None


def forwarded_client(peer: str, forwarded_for: Sequence[str], trusted: Sequence[Network]) -> str:
    """The client address for a request from ``peer`` carrying ``forwarded_for`` (every
    X-Forwarded-For header's entries, in order): the nearest address not a trusted proxy."""

    def is_trusted(address: IPv4Address | IPv6Address | None) -> bool:
        return address is not None and any(address in net for net in trusted)

    if not trusted or not is_trusted(_parse(peer)):
        return peer  # anyone else can write any header: it is ignored
    client = peer
    for entry in reversed(forwarded_for):  # the right end was added by the proxy next to us
        address = _parse(entry)
        if address is None:
            break  # garbage from further out: trust nothing beyond it
        client = str(address)
        if not is_trusted(address):
            break
    return client


class ClientAddress:
    """ASGI middleware: rewrites ``scope["client"]`` from X-Forwarded-For for trusted peers."""

    def __init__(self, app: ASGIApp, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.trusted and scope["type"] in ("http", "websocket") and scope.get("client"):
            entries = [
                part
                for name, value in scope["headers"]
                if name == b"x-forwarded-for"
                for part in value.decode("latin-1").split(",")
            ]
            if entries:
                host = scope["client"][0]
                client = forwarded_client(host, entries, self.trusted)
                if client != host:
                    scope = dict(scope, client=(client, 0))
        await self.app(scope, receive, send)
