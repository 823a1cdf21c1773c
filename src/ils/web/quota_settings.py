"""The quotas on the routes that enqueue work: one rule per kind of work.

Set by ``ILS_QUOTA_<KIND>_USER``, ``..._COMPANY`` (requests per window, or ``none``) and
``..._WINDOW_S``, or ``[quotas.<kind>]`` in ils.toml (names checked by :mod:`ils.settings_sources`).
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

# What the routes enqueue, by cost: the order workflow (emails, PDFs, notifications), PDFs asked
# for on their own, mail sent on request, AI chat answers, and bulk admin actions on the queues.
QuotaKind = Literal["order", "pdf", "email", "ai", "bulk"]
QUOTA_KINDS: tuple[str, ...] = get_args(QuotaKind)


class QuotaRule(BaseModel):
    """At most ``user`` requests per user and ``company`` per company in any ``window_s``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    user: int | None = Field(..., ge=1, le=1_000_000, description="per user; None: no limit")
    company: int | None = Field(..., ge=1, le=1_000_000, description="per company; None: none")
    window_s: int = Field(60, ge=1, le=24 * 3600)

    @field_validator("user", "company", mode="before")
    @classmethod
    def _none(cls, value: Any) -> Any:
        if isinstance(value, str) and value.strip().lower() == "none":
            return None
        return value


# The order workflow is the app's main traffic (bench/ drives 100 orders/s from one user), so
# its window is long and wide; the others are the costly or abusable kinds.
DEFAULT_QUOTAS: dict[str, QuotaRule] = {
    "order": QuotaRule(user=5000, company=20_000, window_s=600),
    "pdf": QuotaRule(user=30, company=120, window_s=60),
    "email": QuotaRule(user=30, company=120, window_s=60),
    "ai": QuotaRule(user=10, company=50, window_s=60),
    "bulk": QuotaRule(user=60, company=200, window_s=60),
}
