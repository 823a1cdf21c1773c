"""Settings of the chat-response job: which provider answers (the built-in offline one, or an
OpenAI-compatible HTTP API), where that API is, its key, model, timeout and tool rounds.

The values come from the root settings' ``chat`` section (``ILS_AI_*``, ``[chat]`` in ils.toml),
validated by :meth:`ils.settings.IlsSettings.chat_settings` at start-up, never at the first
question.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from ils.env_settings import http_url


class ChatSettings(BaseModel):
    """Everything the chat providers need. ``base_url`` ends where ``/chat/completions`` is
    appended, usually with ``/v1``; local servers (Ollama, llama.cpp) need no ``api_key``."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: Literal["offline", "openai"] = "offline"
    base_url: str | None = None
    api_key: SecretStr | None = None
    model: str | None = Field(None, min_length=1, max_length=200)
    timeout_s: float = Field(60.0, gt=0, le=600)
    max_tool_rounds: int = Field(4, ge=1, le=20)

    @field_validator("base_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return None if value is None else http_url(value)

    @model_validator(mode="after")
    def _openai_complete(self) -> ChatSettings:
        if self.provider == "openai" and not (self.base_url and self.model):
            raise ValueError("ILS_AI_PROVIDER=openai needs ILS_AI_BASE_URL and ILS_AI_MODEL")
        return self
