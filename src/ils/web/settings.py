"""Settings of the web app: secret key, public URL, cookies, session and token lifetimes, logins.

The values come from the root settings' ``web`` and ``quotas`` sections, validated by
:meth:`ils.settings.IlsSettings.web_settings` at start-up. Without ``ILS_SECRET_KEY`` a key is
generated once and kept in ``<var>/secret_key``.
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
from ipaddress import IPv4Network, IPv6Network
from pathlib import Path
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)

from ils.env_settings import http_url, networks
from ils.errors import ConfigurationError
from ils.queue.vardir import private_dir
from ils.web.quota_settings import DEFAULT_QUOTAS, QuotaRule

log = logging.getLogger(__name__)

SECRET_KEY_FILE = "secret_key"
MIN_SECRET_LENGTH = 32

HOUR = 3600
DAY = 24 * HOUR


class WebSettings(BaseModel):
    """Everything the web layer needs beyond the job system's :class:`Settings`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    secret_key: SecretStr = Field(description="signs session cookies; keep it secret")
    public_url: str = Field("http://127.0.0.1:8000", description="where users reach the app")
    cookie_secure: bool = Field(False, description="send cookies over HTTPS only")
    session_idle_s: int = Field(
        12 * HOUR, ge=60, le=30 * DAY, description="a session unused this long is over"
    )
    session_absolute_s: int = Field(
        7 * DAY, ge=60, le=365 * DAY, description="a session older than this is over, used or not"
    )
    session_recheck_s: int = Field(
        60, ge=1, le=3600, description="how often an open WebSocket re-checks its credential"
    )
    token_idle_s: int = Field(
        12 * HOUR, ge=60, le=365 * DAY, description="an API token unused this long stops working"
    )
    token_absolute_s: int = Field(
        7 * DAY, ge=60, le=365 * DAY, description="an API token older than this stops working"
    )
    login_max_failures: int = Field(5, ge=1, le=1000, description="per email and IP, per window")
    login_window_s: int = Field(15 * 60, ge=1, le=24 * 3600)
    login_ip_max_failures: int = Field(
        50, ge=1, le=100_000, description="per IP whatever the email, per window"
    )
    metrics_token: SecretStr | None = Field(
        None, description="when set, GET /metrics needs 'Authorization: Bearer <token>'"
    )
    metrics_allow: tuple[IPv4Network | IPv6Network, ...] = Field(
        (IPv4Network("127.0.0.0/8"), IPv6Network("::1/128")),
        description="without a token, the networks GET /metrics answers (comma-separated CIDRs)",
    )
    trusted_proxies: tuple[IPv4Network | IPv6Network, ...] = Field(
        (), description="peers whose X-Forwarded-For names the client (comma-separated CIDRs)"
    )
    max_body_bytes: int = Field(
        1024 * 1024, ge=1024, le=1024**3, description="larger request bodies answer 413"
    )
    max_inflight: int | None = Field(
        8, ge=1, le=10_000,
        description="HTTP requests this process runs at once (none: no limit); past it they wait",
    )  # fmt: skip
    queue_timeout_ms: int = Field(
        200, ge=1, le=60_000, description="how long a request waits for a slot before a 503"
    )
    quotas: dict[str, QuotaRule] = Field(
        default_factory=lambda: dict(DEFAULT_QUOTAS),
        description="per kind of enqueued work: requests per user and company per window",
    )

    @model_validator(mode="after")
    def _idle_within_absolute(self) -> WebSettings:
        # An idle limit beyond the absolute one would never apply: a sign of a mixed-up value.
        for kind in ("session", "token"):
            idle, absolute = getattr(self, f"{kind}_idle_s"), getattr(self, f"{kind}_absolute_s")
            if idle > absolute:
                upper = kind.upper()
                raise ValueError(
                    f"ILS_{upper}_IDLE_S ({idle}) must not exceed "
                    f"ILS_{upper}_ABSOLUTE_S ({absolute})"
                )
        return self

    @field_validator("max_inflight", mode="before")
    @classmethod
    def _no_limit(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "none":
            return None
        return value

    @field_validator("metrics_allow", "trusted_proxies", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return networks(value)

    @field_validator("metrics_token")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError("must be at least 16 characters")
        return value

    @field_validator("secret_key")
    @classmethod
    def _long_enough(cls, value: SecretStr) -> SecretStr:
        if len(value.get_secret_value()) < MIN_SECRET_LENGTH:
            raise ValueError(f"must be at least {MIN_SECRET_LENGTH} characters")
        return value

    @field_validator("public_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return http_url(value, example="https://localhost:8443")


def _read_key_file(path: Path) -> str:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        log.warning("%s was readable by others (mode %o): restricting it to 0600", path, mode)
        path.chmod(0o600)
    key = path.read_text(encoding="utf-8").strip()
    if len(key) < MIN_SECRET_LENGTH:
        raise ConfigurationError(
            f"{path} holds no usable secret key: delete it to generate a new one, "
            "or set ILS_SECRET_KEY"
        )
    return key


def stored_secret_key(var_dir: Path) -> str:
    """The key kept in ``<var_dir>/secret_key``, generated (mode 0600) on first use."""
    path = var_dir / SECRET_KEY_FILE
    if path.is_file():
        return _read_key_file(path)
    private_dir(var_dir)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        # Another process started at the same moment and won the race: use its key.
        return _read_key_file(path)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key + "\n")
    log.info("generated a secret key in %s (set ILS_SECRET_KEY to choose one)", path)
    return key
