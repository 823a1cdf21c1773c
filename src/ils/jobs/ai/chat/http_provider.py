"""The OpenAI-compatible HTTP provider: ``POST {base_url}/chat/completions`` with the company's
tools offered as functions; the model's tool calls are run against the company-bound tool set and
sent back, until it answers or ``max_tool_rounds`` is spent (then it is asked once more, without
tools, for its answer). Hosted APIs and local servers (Ollama, llama.cpp) speak this API.

HTTP 408, 429, 5xx, timeouts and connection errors are temporary (:class:`ProviderUnavailable`,
retried by the queue); other 4xx are permanent (:class:`GiveUp`) with the reply kept in the
reason. The API key goes only in the ``Authorization`` header, never in a reason or a log line,
not even in part (:func:`redact_secret`).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import httpx

from ils.errors import GiveUp
from ils.jobs.ai.chat.provider import Answer, ProviderUnavailable, Turn
from ils.jobs.ai.chat.settings import ChatSettings
from ils.jobs.ai.chat.tools import ToolSet

SYSTEM_PROMPT = (
    "You are the assistant of an optical lab or practice using ILS. Answer questions about the "
    "company's orders, stock, demand forecasts and anomalies, using the tools for every figure. "
    "Use only numbers the tools returned; if the tools cannot answer the question, say so "
    "plainly and say what you can answer. Dates are the company's local dates. Be brief."
)
TEMPORARY = frozenset({408, 409, 425, 429})
EXCERPT = 500


# Providers echo keys in part ("Incorrect API key provided: sk-abc1...wxyz"): any run of the
# key this long or longer is cut out of what we keep, not only the whole key.
SECRET_SLICE = 6


def redact_secret(text: str, secret: str, slice_len: int = SECRET_SLICE) -> str:
    """``text`` with every run of ``secret``'s characters at least ``slice_len`` long (the whole
    key, its prefix, its tail, any part) replaced by ``[redacted]``."""
    if not secret or not text:
        return text
    if len(secret) < slice_len:
        return text.replace(secret, "[redacted]")
    grams = {secret[i : i + slice_len] for i in range(len(secret) - slice_len + 1)}
    hidden = bytearray(len(text))
    for i in range(len(text) - slice_len + 1):
        if text[i : i + slice_len] in grams:
            hidden[i : i + slice_len] = b"\x01" * slice_len
    if not any(hidden):
        return text
    out: list[str] = []
    for i, char in enumerate(text):
        if not hidden[i]:
            out.append(char)
        elif i == 0 or not hidden[i - 1]:
            out.append("[redacted]")
    return "".join(out)


class OpenAIProvider:
    """One HTTP client per process, opened at the first question and closed with the process."""

    name = "openai"

    def __init__(self, settings: ChatSettings, transport: httpx.AsyncBaseTransport | None = None):
        if not settings.base_url or not settings.model:
            raise ValueError("the openai provider needs a base URL and a model")
        self.settings = settings
        self.url = f"{settings.base_url}/chat/completions"
        self._transport = transport
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            headers = {"Content-Type": "application/json"}
            if self.settings.api_key is not None:
                headers["Authorization"] = f"Bearer {self.settings.api_key.get_secret_value()}"
            self._client = httpx.AsyncClient(
                headers=headers, timeout=self.settings.timeout_s, transport=self._transport
            )
        return self._client

    def _redact(self, text: str) -> str:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        return redact_secret(text, key)

    async def _complete(
        self, messages: list[dict[str, Any]], tools: ToolSet | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.settings.model, "messages": messages}
        if tools is not None:
            body |= {"tools": tools.schemas(), "tool_choice": "auto"}
        try:
            response = await self._http().post(self.url, json=body)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(f"the AI provider timed out ({type(exc).__name__})") from None
        except httpx.TransportError as exc:
            reason = self._redact(str(exc) or type(exc).__name__)
            raise ProviderUnavailable(f"the AI provider is unreachable: {reason}") from None
        code, excerpt = response.status_code, self._redact(response.text[:EXCERPT])
        if code in TEMPORARY or code >= 500:
            raise ProviderUnavailable(f"the AI provider answered HTTP {code}: {excerpt}")
        if code >= 400:
            raise GiveUp(f"the AI provider refused the request: HTTP {code}: {excerpt}")
        try:
            reply = response.json()["choices"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            reply = None
        if not isinstance(reply, dict):
            raise GiveUp(f"the AI provider sent no chat completion (HTTP {code}): {excerpt}")
        return reply

    async def answer(self, history: Sequence[Turn], message: str, tools: ToolSet) -> Answer:
        messages: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_PROMPT}]
        messages += [{"role": t.role, "content": t.content} for t in history]
        messages.append({"role": "user", "content": message})
        rounds = self.settings.max_tool_rounds
        for round_no in range(rounds + 1):
            reply = await self._complete(messages, tools if round_no < rounds else None)
            calls = reply.get("tool_calls") or []
            if not calls:
                text = (reply.get("content") or "").strip()
                if not text:
                    raise GiveUp("the AI provider answered with no text")
                return Answer(text, list(dict.fromkeys(tools.used)), self.name)
            messages.append({"role": "assistant", "content": reply.get("content"),
                             "tool_calls": calls})  # fmt: skip
            for call in calls:
                function = call.get("function") or {}
                result = await tools.call(str(function.get("name")), function.get("arguments"))
                messages.append({"role": "tool", "tool_call_id": call.get("id"),
                                 "content": json.dumps(result, default=str)})  # fmt: skip
        raise GiveUp(f"the AI model still asked for tools after {rounds} rounds")

    async def close(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()
