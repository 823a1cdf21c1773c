"""Chat answers (issue 8 point 5): a provider interface, the built-in offline provider (the
default), an OpenAI-compatible HTTP provider, the company-scoped read-only tools both use, and
the chat-response job that stores the answer and pushes it to the user.

:func:`build_provider` makes the process's provider from its :class:`ChatSettings` (the HTTP one,
and httpx with it, imported only when chosen); handlers find it as ``ctx.resources.chat``. The
package imports none of its modules: the chat-response declaration (:mod:`.handler`), which every
process's registry loads, comes without the providers, their settings or the tools (on
SQLAlchemy); import those from their modules.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ils.jobs.ai.chat.provider import ChatProvider
    from ils.jobs.ai.chat.settings import ChatSettings


def build_provider(settings: ChatSettings) -> ChatProvider:
    """The provider ``settings`` choose: offline (no network) or the OpenAI-compatible API."""
    if settings.provider == "openai":
        from ils.jobs.ai.chat.http_provider import OpenAIProvider

        return OpenAIProvider(settings)
    from ils.jobs.ai.chat.offline import OfflineProvider

    return OfflineProvider()
