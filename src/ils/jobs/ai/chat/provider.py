"""What answers a chat message: the :class:`ChatProvider` protocol (history, the user's message
and a company-bound tool set in, the answer text and the tools it used out) and the errors a
provider raises for temporary trouble.

A provider never reads the database itself: everything it knows about the company comes through
the :class:`~ils.jobs.ai.chat.tools.ToolSet` it is given.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from ils.errors import IlsJobsError

if TYPE_CHECKING:
    from ils.jobs.ai.chat.tools import ToolSet


@dataclass(frozen=True)
class Turn:
    """One earlier message of the conversation."""

    role: Literal["user", "assistant"]
    content: str


@dataclass(frozen=True)
class Answer:
    text: str
    tools_used: list[str] = field(default_factory=list)
    provider: str = ""


class ProviderUnavailable(IlsJobsError):
    """The provider could not answer now (rate limited, server error, timeout, unreachable): the
    queue retries the job with its backoff."""


@runtime_checkable
class ChatProvider(Protocol):
    name: str

    async def answer(self, history: Sequence[Turn], message: str, tools: ToolSet) -> Answer:
        """The answer to ``message`` after ``history``, using only ``tools`` for data."""
        ...

    async def close(self) -> None:
        """Release connections (called once, when the process stops)."""
        ...
