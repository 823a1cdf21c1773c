"""How long sessions and API tokens live: an idle limit and an absolute one, from the settings,
and the clock they are measured by (injectable, so tests move time instead of waiting).

Lifetimes are applied when a credential is used, not stamped on its row: shortening a setting
ends every credential it no longer allows at the next request.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from ils.web.settings import WebSettings

Clock = Callable[[], dt.datetime]

# Writing "last seen" on every request would turn each read into a write; once a minute is
# precise enough for idle limits of minutes to hours.
TOUCH_RESOLUTION = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Lifetime:
    idle: dt.timedelta
    absolute: dt.timedelta

    @classmethod
    def of_sessions(cls, settings: WebSettings) -> Lifetime:
        return cls(
            dt.timedelta(seconds=settings.session_idle_s),
            dt.timedelta(seconds=settings.session_absolute_s),
        )

    @classmethod
    def of_tokens(cls, settings: WebSettings) -> Lifetime:
        return cls(
            dt.timedelta(seconds=settings.token_idle_s),
            dt.timedelta(seconds=settings.token_absolute_s),
        )

    def expires_at(self, created_at: dt.datetime, last_used_at: dt.datetime | None) -> dt.datetime:
        """When the credential stops working unless it is used before (never after the
        absolute limit)."""
        idle_end = (last_used_at or created_at) + self.idle
        return min(created_at + self.absolute, idle_end)

    def expired(
        self, created_at: dt.datetime, last_used_at: dt.datetime | None, now: dt.datetime
    ) -> bool:
        return now >= self.expires_at(created_at, last_used_at)


def needs_touch(last_used_at: dt.datetime | None, now: dt.datetime) -> bool:
    """Whether to write a new "last used" time (see :data:`TOUCH_RESOLUTION`)."""
    return last_used_at is None or now - last_used_at >= TOUCH_RESOLUTION
