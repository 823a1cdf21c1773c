"""Settings of the outgoing webhooks: the networks on-premise receivers may sit in (the SSRF
guard's allow-list), the request timeout, and after how many events failed in a row an endpoint
is disabled.

The values come from the root settings' ``webhooks`` section (``ILS_WEBHOOK_*``, ``[webhooks]``
in ils.toml), validated by :meth:`ils.settings.IlsSettings.webhook_settings`.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ils.env_settings import networks

Network = IPv4Network | IPv6Network


class WebhookSettings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    allow: tuple[Network, ...] = Field(
        (),
        description="networks a receiver may resolve to although private or loopback "
        "(comma-separated CIDRs, for on-premise receivers); plain http is accepted there only",
    )
    timeout_s: float = Field(10.0, gt=0, le=60, description="one delivery's request timeout")
    disable_after: int = Field(
        5, ge=1, le=1000, description="events failed for good in a row that disable an endpoint"
    )
    excerpt_bytes: int = Field(1000, ge=0, le=65536, description="response kept per attempt")

    @field_validator("allow", mode="before")
    @classmethod
    def _networks(cls, value: Any) -> Any:
        return networks(value)
