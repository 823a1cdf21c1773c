"""What one app's routes share: the job system, the web settings, the session signer, the limiter,
the lifetimes of sessions and tokens and the clock they are measured by.

Built once by ``create_app`` and kept on ``app.state.web``; dependencies reach it through
:func:`web_context`, so there is no module-level state and two apps never share anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

from fastapi import Request

from ils.bootstrap import JobSystem
from ils.domain.models.types import utcnow
from ils.web.auth.lifetimes import Clock, Lifetime
from ils.web.auth.ratelimit import LoginLimiter
from ils.web.auth.sessions import SessionSigner
from ils.web.quotas import QuotaLimiter
from ils.web.settings import WebSettings


@dataclass(frozen=True)
class WebContext:
    system: JobSystem
    settings: WebSettings
    sessions: SessionSigner
    login_limiter: LoginLimiter
    session_lifetime: Lifetime
    token_lifetime: Lifetime
    quotas: QuotaLimiter
    # Replaced by tests that move time (``dataclasses.replace``), never patched globally.
    clock: Clock = field(default=utcnow)

    @classmethod
    def build(cls, system: JobSystem, settings: WebSettings) -> WebContext:
        return cls(
            system=system,
            settings=settings,
            sessions=SessionSigner(settings),
            session_lifetime=Lifetime.of_sessions(settings),
            token_lifetime=Lifetime.of_tokens(settings),
            login_limiter=LoginLimiter(
                system.broker,
                prefix=system.settings.prefix,
                max_failures=settings.login_max_failures,
                window_s=settings.login_window_s,
                ip_max_failures=settings.login_ip_max_failures,
            ),
            quotas=QuotaLimiter(system.broker, system.settings.prefix, settings.quotas),
        )


def web_context(request: Request) -> WebContext:
    """The :class:`WebContext` of the app serving ``request``."""
    return cast(WebContext, request.app.state.web)
