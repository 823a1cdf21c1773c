"""Hostile request input answered 422 before any route sees it, and never echoed or logged.

:class:`JsonGuard` refuses JSON bodies Python's parser would turn into values no column, log or
answer can hold (lone surrogates, NaN, infinities, over-long integers, runaway nesting, invalid
UTF-8). FastAPI's own 422s are answered without the rejected input by :mod:`ils.web.errors`.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from fastapi import status
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH", b"DELETE"})
# A \uD800-\uDFFF escape: only then can the parsed text hold a surrogate, paired or not.
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


class HostileJson(ValueError):
    """A JSON body that parses into something unsafe; the message names what, not the value."""


def _constant(name: str) -> Any:
    raise HostileJson(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise HostileJson("a number is too large to be finite")
    return value


def _check_text(value: Any) -> None:
    stack = [value]
    while stack:  # iterative: the nesting depth was already bounded by the parser
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise HostileJson("text holds a lone UTF-16 surrogate") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def check_json(body: bytes) -> None:
    """Raise :class:`HostileJson` for a body that must not reach a route; malformed JSON passes
    (FastAPI answers it with its own 422)."""
    try:
        parsed = json.loads(body, parse_constant=_constant, parse_float=_finite)
    except HostileJson:
        raise
    except json.JSONDecodeError:
        return
    except UnicodeDecodeError:
        raise HostileJson("the body is not valid UTF-8") from None
    except RecursionError:
        raise HostileJson("the body nests too deeply") from None
    except ValueError:  # e.g. an integer past Python's digit limit
        raise HostileJson("a number has too many digits") from None
    if SURROGATE_ESCAPE.search(body):
        _check_text(parsed)


def _is_json(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"content-type":
            return b"json" in value.lower()
    return True  # FastAPI parses a body without a content type as JSON


def _refusal(reason: str) -> JSONResponse:
    detail = [{"loc": ["body"], "msg": reason, "type": "hostile_json"}]
    return JSONResponse({"detail": detail}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


class JsonGuard:
    """ASGI middleware: reads a JSON body (inside the app's body-size limit), checks it with
    :func:`check_json`, and hands the route the same bytes, or answers 422 itself."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"].encode() not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        if not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left: let the app see it
                await self.app(scope, _replay([message], receive), send)
                return
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            try:
                check_json(body)
            except HostileJson as exc:
                await _refusal(str(exc))(scope, receive, send)
                return
        replayed: Message = {"type": "http.request", "body": body, "more_body": False}
        await self.app(scope, _replay([replayed], receive), send)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()  # later messages (a disconnect) come from the server

    return replay
