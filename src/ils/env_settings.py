"""The checks the settings sections share: a URL (the chat provider's base URL, the app's public
URL in emails) and a comma-separated list of networks (the metrics and proxy allow-lists, the
webhooks' SSRF allow-list)."""

from __future__ import annotations

from ipaddress import ip_network
from typing import Any
from urllib.parse import urlsplit


def http_url(value: str, example: str | None = None) -> str:
    """``value`` stripped of spaces and a trailing slash; ValueError unless http(s) with a host
    (naming ``example`` when given)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        hint = f", e.g. {example}" if example else ""
        raise ValueError(f"must be an http:// or https:// URL{hint}")
    return value.strip().rstrip("/")


def networks(value: Any) -> Any:
    """A comma-separated string of networks (``10.0.0.0/8, ::1``) as a tuple of networks; any
    other value unchanged (for the field's own validation)."""
    if isinstance(value, str):
        parts = [p.strip() for p in value.split(",") if p.strip()]
        try:
            return tuple(ip_network(p, strict=False) for p in parts)
        except ValueError as exc:
            raise ValueError(f"comma-separated networks like 10.0.0.0/8: {exc}") from exc
    return value
