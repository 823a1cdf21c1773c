"""The webhook sender (the ``webhooks`` resource): one signed POST through the SSRF guard, to the
address the guard checked, with a short timeout, never following a redirect, never through an
environment proxy; what came back (status, latency, an excerpt, or the error) as a
:class:`Sent`."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit, urlunsplit

from ils.jobs.webhooks.guard import RefusedAddress, resolve
from ils.jobs.webhooks.settings import WebhookSettings
from ils.jobs.webhooks.signing import signed_headers

if TYPE_CHECKING:
    import httpx

#: Idle connections the sender keeps open. httpcore's pool scans all of its connections twice
#: over for every request it assigns, so a pool grown to a busy worker's 50 deliveries at once
#: costs more CPU per request than the few connections it saves; bursts above this open new ones.
KEEPALIVE = 10


@dataclass(frozen=True)
class Sent:
    """One attempt's outcome. ``refused``: the SSRF guard refused the address (no request)."""

    status_code: int | None
    latency_ms: int | None
    excerpt: str | None
    error: str | None
    refused: bool = False

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _pinned(url: str, address: str) -> tuple[str, str]:
    """``url`` with its host replaced by ``address``, and the Host header it had."""
    parts = urlsplit(url)
    host = f"[{address}]" if ":" in address else address
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc)), parts.netloc.rsplit("@", 1)[-1]


class WebhookSender:
    """Built with the worker (its settings checked then); its HTTP client, and httpx with it, at
    the first delivery: a notification worker that sends no webhook stays lean."""

    def __init__(self, settings: WebhookSettings) -> None:
        self.settings = settings
        self._http: httpx.AsyncClient | None = None

    @property
    def _client(self) -> httpx.AsyncClient:
        if self._http is None:
            import httpx

            self._http = httpx.AsyncClient(
                timeout=self.settings.timeout_s, follow_redirects=False, trust_env=False,
                limits=httpx.Limits(max_keepalive_connections=KEEPALIVE),
            )  # fmt: skip
        return self._http

    async def send(self, url: str, event_id: str, body: bytes, signing_secrets: list[str]) -> Sent:
        import httpx

        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        try:
            address = await resolve(host, port, self.settings.allow)
        except RefusedAddress as exc:
            return Sent(None, None, None, str(exc), refused=True)
        except OSError as exc:
            return Sent(None, None, None, f"cannot resolve {host}: {exc}")
        target, host_header = _pinned(url, str(address))
        now = dt.datetime.now(dt.UTC)
        headers = {
            **signed_headers(event_id, body, signing_secrets, now),
            "content-type": "application/json",
            "host": host_header,
            "user-agent": "ils-webhooks/1",
        }
        extensions = {"sni_hostname": host} if parts.scheme == "https" else {}
        started = time.perf_counter()
        try:
            response = await self._client.post(
                target, content=body, headers=headers, extensions=extensions
            )
        except httpx.TimeoutException as exc:
            return Sent(None, _ms(started), None, f"timed out: {type(exc).__name__}")
        except httpx.HTTPError as exc:
            return Sent(None, _ms(started), None, f"{type(exc).__name__}: {exc}")
        excerpt = response.content[: self.settings.excerpt_bytes].decode("utf-8", "replace")
        error = None
        if response.is_redirect:
            error = f"redirect to {response.headers.get('location')!r} not followed"
        elif not response.is_success:
            error = f"HTTP {response.status_code}"
        return Sent(response.status_code, _ms(started), excerpt, error)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
