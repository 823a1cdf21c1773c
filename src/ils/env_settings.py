"""The URL check the settings sections share (the chat provider's base URL, the app's public URL
in emails)."""

from __future__ import annotations

from urllib.parse import urlsplit


def http_url(value: str) -> str:
    """``value`` stripped of spaces and a trailing slash; ValueError unless http(s) with a host."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value.strip().rstrip("/")
