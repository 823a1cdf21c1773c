"""Chat answers (issue 8 point 5): a provider interface, the built-in offline provider (the
default), an OpenAI-compatible HTTP provider, the company-scoped read-only tools both use, and
the chat-response job that stores the answer and pushes it to the user.

:func:`build_provider` makes the process's provider from its :class:`ChatSettings` (the HTTP one,
and httpx with it, imported only when chosen); handlers find it as ``ctx.resources.chat``. The
tools (:mod:`.tools`, on SQLAlchemy) are imported from their module, by the job when it runs.
"""

from __future__ import annotations

from ils.jobs.ai.chat.offline import OfflineProvider
from ils.jobs.ai.chat.provider import Answer, ChatProvider, ProviderUnavailable, Turn
from ils.jobs.ai.chat.settings import ChatSettings

__all__ = [
    "Answer",
    "ChatProvider",
    "ChatSettings",
    "OfflineProvider",
    "ProviderUnavailable",
    "Turn",
    "build_provider",
]


def build_provider(settings: ChatSettings) -> ChatProvider:
    """The provider ``settings`` choose: offline (no network) or the OpenAI-compatible API."""
    if settings.provider == "openai":
        from ils.jobs.ai.chat.http_provider import OpenAIProvider

        return OpenAIProvider(settings)
    return OfflineProvider()
