"""Reading one group of settings from the environment (the mail transport, the chat provider):
every variable under the group's prefixes must be one of its own (a misspelt name fails with
the nearest valid one), the values are validated by the group's pydantic model, and each error
is named by the variable it came from. Also the URL check those groups share.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import Any, TypeVar
from urllib.parse import urlsplit

from pydantic import BaseModel, ValidationError

from ils.queue.errors import ConfigurationError
from ils.queue.settings import env_errors

M = TypeVar("M", bound=BaseModel)


def check_names(
    env: Mapping[str, str], fields: Mapping[str, str], prefixes: tuple[str, ...], what: str
) -> None:
    """Fail on the first variable under ``prefixes`` that is not a key of ``fields``."""
    for name in env:
        if name in fields or not name.startswith(prefixes):
            continue
        near = difflib.get_close_matches(name, list(fields), n=1, cutoff=0.6)
        hint = f"did you mean {near[0]}?" if near else f"valid: {', '.join(fields)}"
        raise ConfigurationError(f"unknown {what} setting {name}; {hint}")


def load_env_model(
    model: type[M],
    env: Mapping[str, str],
    fields: Mapping[str, str],
    prefixes: tuple[str, ...],
    what: str,
    extra: Mapping[str, Any] | None = None,
) -> M:
    """``model`` from the non-empty variables of ``fields`` (variable -> field) plus ``extra``;
    :class:`ConfigurationError` naming the variables otherwise."""
    check_names(env, fields, prefixes, what)
    data: dict[str, Any] = {
        field: env[name].strip() for name, field in fields.items() if env.get(name, "").strip()
    }
    data.update(extra or {})
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(
            f"invalid {what} settings: {env_errors(exc, fields, what)}"
        ) from exc


def http_url(value: str) -> str:
    """``value`` stripped of spaces and a trailing slash; ValueError unless http(s) with a host."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError("must be an http:// or https:// URL")
    return value.strip().rstrip("/")
