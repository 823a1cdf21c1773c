"""Where the root settings' values come from: every name each source knows, the one unknown-name
check (with "did you mean"), and the sources themselves (``ils.toml``, the environment).

A value's place in the root settings is a dotted path (``queues.email.concurrency``,
``mail.smtp_host``); the TOML file spells it as tables and keys, the environment by the names
below (``ILS_QUEUE_EMAIL_CONCURRENCY``, ``ILS_SMTP_HOST``). Each source gives a nested dict and,
for every path it set, where the value came from, so an error names the variable or key.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, TomlConfigSettingsSource

from ils.errors import ConfigurationError
from ils.queue.settings import QUEUE_FIELDS, QUEUE_NAMES
from ils.web.quota_settings import QUOTA_KINDS, QuotaRule

CONFIG_ENV = "ILS_CONFIG"  # names the TOML file; not a setting itself
# Variables of the test harness, read by the tests and never by ILS.
HARNESS_PREFIX = "ILS_TEST_"
REDIS_PARTS = ("REDIS_HOST", "REDIS_PORT", "REDIS_USERNAME", "REDIS_PASSWORD", "REDIS_TLS")
TRUE_WORDS = ("1", "true", "yes", "on")

# Environment name -> dotted path, for every name that is not generated per queue or quota kind.
ENV_PATHS: dict[str, str] = {
    "REDIS_URL": "redis_url",
    "DATABASE_URL": "database_url",
    "ILS_REDIS_PREFIX": "prefix",
    "ILS_REDIS_CLUSTER": "redis_cluster",
    "ILS_VAR_DIR": "var_dir",
    "ILS_FILES_DIR": "files_dir",
    "ILS_OMA_DIR": "oma_dir",
    "ILS_EMBEDDED_PORT": "embedded_port",
    "ILS_SHUTDOWN_GRACE_S": "shutdown_grace_s",
    "ILS_HEARTBEAT_INTERVAL_S": "heartbeat_interval_s",
    "ILS_MAX_PAYLOAD_BYTES": "max_payload_bytes",
    "ILS_LOOP_LAG_PAUSE_MS": "loop_lag_pause_ms",
    "ILS_LOOP_LAG_RESUME_MS": "loop_lag_resume_ms",
    "ILS_IMPORTS": "imports",
    "ILS_LOG_LEVEL": "log_level",
    "ILS_LOG_FORMAT": "log_format",
    "ILS_PUBLIC_URL": "public_url",
    # web
    "ILS_SECRET_KEY": "web.secret_key",
    "ILS_COOKIE_SECURE": "web.cookie_secure",
    "ILS_SESSION_IDLE_S": "web.session_idle_s",
    "ILS_SESSION_ABSOLUTE_S": "web.session_absolute_s",
    "ILS_SESSION_RECHECK_S": "web.session_recheck_s",
    "ILS_TOKEN_IDLE_S": "web.token_idle_s",
    "ILS_TOKEN_ABSOLUTE_S": "web.token_absolute_s",
    "ILS_LOGIN_MAX_FAILURES": "web.login_max_failures",
    "ILS_LOGIN_WINDOW_S": "web.login_window_s",
    "ILS_LOGIN_IP_MAX_FAILURES": "web.login_ip_max_failures",
    "ILS_METRICS_TOKEN": "web.metrics_token",
    "ILS_METRICS_ALLOW": "web.metrics_allow",
    "ILS_TRUSTED_PROXIES": "web.trusted_proxies",
    "ILS_MAX_BODY_BYTES": "web.max_body_bytes",
    "ILS_WEB_MAX_INFLIGHT": "web.max_inflight",
    "ILS_WEB_QUEUE_TIMEOUT_MS": "web.queue_timeout_ms",
    # mail
    "ILS_MAIL_TRANSPORT": "mail.transport",
    "ILS_MAIL_FROM": "mail.sender",
    "ILS_SMTP_HOST": "mail.smtp_host",
    "ILS_SMTP_PORT": "mail.smtp_port",
    "ILS_SMTP_USER": "mail.smtp_user",
    "ILS_SMTP_PASSWORD": "mail.smtp_password",
    "ILS_SMTP_TLS": "mail.smtp_tls",
    "ILS_SMTP_CA_FILE": "mail.smtp_ca_file",
    "ILS_SMTP_TIMEOUT_S": "mail.smtp_timeout_s",
    "ILS_SMTP_CONNECTIONS": "mail.smtp_connections",
    # chat
    "ILS_AI_PROVIDER": "chat.provider",
    "ILS_AI_BASE_URL": "chat.base_url",
    "ILS_AI_API_KEY": "chat.api_key",
    "ILS_AI_MODEL": "chat.model",
    "ILS_AI_TIMEOUT_S": "chat.timeout_s",
    "ILS_AI_MAX_TOOL_ROUNDS": "chat.max_tool_rounds",
    # webhooks
    "ILS_WEBHOOK_ALLOW": "webhooks.allow",
    "ILS_WEBHOOK_TIMEOUT_S": "webhooks.timeout_s",
    "ILS_WEBHOOK_DISABLE_AFTER": "webhooks.disable_after",
    # retention (the hourly retention job)
    "ILS_RETENTION_OUTBOX_DAYS": "retention.outbox_days",
    "ILS_RETENTION_ORPHAN_DOCUMENT_HOURS": "retention.orphan_document_hours",
    "ILS_RETENTION_CREDENTIAL_DAYS": "retention.credential_days",
    "ILS_RETENTION_NOTIFICATION_DAYS": "retention.notification_days",
    "ILS_RETENTION_EVENT_DAYS": "retention.event_days",
}
for _q in QUEUE_NAMES:
    for _f in QUEUE_FIELDS:
        ENV_PATHS[f"ILS_QUEUE_{_q.upper()}_{_f.upper()}"] = f"queues.{_q}.{_f}"
for _k in QUOTA_KINDS:
    for _f in QuotaRule.model_fields:
        ENV_PATHS[f"ILS_QUOTA_{_k.upper()}_{_f.upper()}"] = f"quotas.{_k}.{_f}"

# Every path a TOML file or a command-line option may set.
PATHS: frozenset[str] = frozenset(ENV_PATHS.values()) | {
    "worker_restart_limit", "redis_wait_s",
}  # fmt: skip
# Names that once meant something: refused with what replaced them, never silently ignored.
REPLACED: dict[str, str] = {
    "ILS_SESSION_MAX_AGE_S": "ILS_SESSION_ABSOLUTE_S (and ILS_SESSION_IDLE_S)",
}
# Values that mean "none" for the queue fields that take one (rate_max, drain_delay_s).
NONE_WORDS = ("", "none", "null")


def unknown_name(name: str, known: Iterable[str], where: str) -> ConfigurationError:
    """The error for ``name``, unknown in ``where``: the nearest known name, else its siblings."""
    choices = sorted(known)
    near = difflib.get_close_matches(name, choices, n=1, cutoff=0.6)
    if near:
        hint = f"did you mean {near[0]}?"
    else:
        stem = name.rsplit("_" if "_" in name and "." not in name else ".", 1)[0]
        siblings = [c for c in choices if c.startswith(stem)][:12]
        hint = f"valid: {', '.join(siblings)}" if siblings else "no setting has that name"
    return ConfigurationError(f"unknown setting {name} in {where}; {hint}")


def check_env_names(env: Mapping[str, str]) -> None:
    """Every ``ILS_*`` variable must be a known name (the test harness's aside)."""
    for name in env:
        if not name.startswith("ILS_") or name.startswith(HARNESS_PREFIX):
            continue
        if name in ENV_PATHS or name == CONFIG_ENV:
            continue
        if name in REPLACED:
            raise ConfigurationError(f"{name} is no longer read; use {REPLACED[name]}")
        raise unknown_name(name, [*ENV_PATHS, CONFIG_ENV], "the environment")


def flatten(data: Mapping[str, Any], stem: str = "") -> Iterator[tuple[str, Any]]:
    """``(dotted path, value)`` for every leaf of ``data``."""
    for key, value in data.items():
        path = f"{stem}{key}"
        if isinstance(value, Mapping):
            yield from flatten(value, path + ".")
        else:
            yield path, value


def check_paths(data: Mapping[str, Any], where: str) -> None:
    """Every leaf of ``data`` (a TOML file, the command-line options) must be a known path."""
    for path, _value in flatten(data):
        if path not in PATHS:
            raise unknown_name(path, PATHS, where)


def nest(flat: Mapping[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}``."""
    out: dict[str, Any] = {}
    for path, value in flat.items():
        *parents, leaf = path.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def redis_url_from_env(env: Mapping[str, str]) -> str | None:
    """``REDIS_URL``, else ``REDIS_HOST``/``REDIS_PORT``/``REDIS_PASSWORD`` (the seed's names),
    with ``REDIS_USERNAME`` for an ACL user and ``REDIS_TLS`` (true/false) for ``rediss://``."""
    if env.get("REDIS_URL"):
        return env["REDIS_URL"]
    host = env.get("REDIS_HOST")
    port = env.get("REDIS_PORT")
    if not host and not port:
        return None
    user = quote(env.get("REDIS_USERNAME") or "", safe="")
    password = env.get("REDIS_PASSWORD")
    auth = f"{user}:{quote(password, safe='')}@" if password else (f"{user}@" if user else "")
    tls = (env.get("REDIS_TLS") or "").strip().lower()
    if tls and tls not in (*TRUE_WORDS, "0", "false", "no", "off"):
        raise ConfigurationError(f"REDIS_TLS must be true or false, not {tls!r}")
    scheme = "rediss" if tls in TRUE_WORDS else "redis"
    return f"{scheme}://{auth}{host or 'localhost'}:{port or '6379'}/0"


class EnvSource(PydanticBaseSettingsSource):
    """The environment, by the names of :data:`ENV_PATHS`; ``origins`` maps each path it set to
    the variable it came from. Empty values are unset, as if the variable were absent."""

    def __init__(self, settings_cls: type[BaseSettings], env: Mapping[str, str]) -> None:
        super().__init__(settings_cls)
        self.env = env
        self.origins: dict[str, str] = {}

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        # Values are gathered by name in __call__, not field by field.
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        check_env_names(self.env)
        flat: dict[str, Any] = {}
        for name, path in ENV_PATHS.items():
            raw = self.env.get(name, "").strip()
            if path.startswith("queues.") and name in self.env and raw.lower() in NONE_WORDS:
                flat[path] = None  # "none" clears a queue's rate limit or drain delay
            elif raw:
                flat[path] = (
                    tuple(m.strip() for m in raw.split(",") if m.strip())
                    if (path == "imports")
                    else raw
                )
            else:
                continue
            self.origins[path] = name
        url = redis_url_from_env(self.env)
        if url and "redis_url" not in flat:
            flat["redis_url"] = url
            self.origins["redis_url"] = "/".join(p for p in REDIS_PARTS if self.env.get(p))
        return nest(flat)


class TomlSource(TomlConfigSettingsSource):
    """The TOML file, its names checked; ``origins`` says "<file> key <path>" for each value."""

    def __init__(self, settings_cls: type[BaseSettings], path: Path) -> None:
        if not path.is_file():
            raise ConfigurationError(f"config file not found: {path}")
        self.path = path
        import tomllib  # only a process that has a TOML file reads one

        try:
            super().__init__(settings_cls, toml_file=path)
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: not valid TOML: {exc}") from exc
        check_paths(self.toml_data, str(path))
        self.origins = {p: f"{path} key {p}" for p, _v in flatten(self.toml_data)}


def config_path(env: Mapping[str, str], given: Path | None) -> Path | None:
    """The TOML file: ``--config``, else ``ILS_CONFIG``, else ``./ils.toml`` when there is one."""
    if given is not None:
        return given
    if env.get(CONFIG_ENV):
        return Path(env[CONFIG_ENV])
    default = Path("ils.toml")
    return default if default.is_file() else None
