"""How long the hourly retention job keeps things: delivered outbox rows, orphaned documents,
ended sessions and tokens, notifications, domain events (archived first).

The values come from the root settings' ``retention`` section (``ILS_RETENTION_*``,
``[retention]`` in ils.toml), validated by :meth:`ils.settings.IlsSettings.retention_settings`.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

DAY_MAX = 3650
#: The web section's credential lifetimes, handed in by the root settings: a session or token is
#: deleted only once these say it has ended.
CREDENTIAL_LIFETIMES = ("session_idle_s", "session_absolute_s", "token_idle_s", "token_absolute_s")


class RetentionSettings(BaseModel):
    """What the retention job deletes, and after how long."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    outbox_days: int = Field(
        7, ge=1, le=DAY_MAX, description="outbox rows delivered to Redis longer ago than this"
    )
    orphan_document_hours: int = Field(
        24, ge=1, le=DAY_MAX * 24,
        description="files under the storage that no document row names, this much older",
    )  # fmt: skip
    credential_days: int = Field(
        30, ge=1, le=DAY_MAX,
        description="sessions and API tokens revoked or expired (by the web section's lifetimes) "
        "this long ago",
    )  # fmt: skip
    notification_days: int = Field(
        180, ge=1, le=DAY_MAX, description="notifications older than this, read or not"
    )
    event_days: int = Field(
        400, ge=1, le=DAY_MAX,
        description="domain events recorded longer ago than this: archived, then deleted",
    )  # fmt: skip
    session_idle_s: int = Field(12 * 3600, ge=1)
    session_absolute_s: int = Field(7 * 86400, ge=1)
    token_idle_s: int = Field(12 * 3600, ge=1)
    token_absolute_s: int = Field(7 * 86400, ge=1)
