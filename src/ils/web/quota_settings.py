"""The quotas on the routes that enqueue work: one rule per kind of work, read from the environment.

``ILS_QUOTA_<KIND>_USER``, ``..._COMPANY`` (requests per window, or ``none``) and
``..._WINDOW_S``; a misspelt kind or field fails at start-up with the nearest valid name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ils.queue.errors import ConfigurationError

# What the routes enqueue, by cost: the order workflow (emails, PDFs, notifications), PDFs asked
# for on their own, mail sent on request, AI chat answers, and bulk admin actions on the queues.
QuotaKind = Literal["order", "pdf", "email", "ai", "bulk"]
QUOTA_KINDS: tuple[str, ...] = get_args(QuotaKind)
ENV_PREFIX = "ILS_QUOTA_"
FIELDS = {"USER": "user", "COMPANY": "company", "WINDOW_S": "window_s"}


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


def _split(name: str) -> tuple[str, str]:
    rest = name.removeprefix(ENV_PREFIX)
    for field in FIELDS:
        if rest.endswith("_" + field):
            return rest[: -len(field) - 1].lower(), field
    raise ConfigurationError(
        f"unknown quota setting {name}: expected {ENV_PREFIX}<KIND>_USER, _COMPANY or _WINDOW_S"
    )


def load_quotas(env: Mapping[str, str]) -> dict[str, QuotaRule]:
    """The defaults with every ``ILS_QUOTA_*`` variable of ``env`` applied, validated."""
    changes: dict[str, dict[str, Any]] = {}
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX) or not value.strip():
            continue
        kind, field = _split(name)
        if kind not in QUOTA_KINDS:
            near = difflib.get_close_matches(kind, QUOTA_KINDS, n=1)
            hint = f"; did you mean {ENV_PREFIX}{near[0].upper()}_{field}?" if near else ""
            raise ConfigurationError(
                f"unknown quota kind {kind!r} in {name}{hint} (kinds: {', '.join(QUOTA_KINDS)})"
            )
        changes.setdefault(kind, {})[FIELDS[field]] = value.strip()
    quotas = dict(DEFAULT_QUOTAS)
    for kind, fields in changes.items():
        try:
            quotas[kind] = QuotaRule.model_validate(quotas[kind].model_dump() | fields)
        except ValidationError as exc:
            problems = "; ".join(
                f"{ENV_PREFIX}{kind.upper()}_{str(e['loc'][0]).upper()}: {e['msg']}"
                for e in exc.errors()
            )
            raise ConfigurationError(f"invalid quota settings: {problems}") from exc
    return quotas
