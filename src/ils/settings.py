"""The root settings object of an ILS process, and its one loader.

:func:`load_settings` reads the sources in one order — defaults < ``ils.toml`` < environment <
command-line options — checks every name once (:mod:`ils.settings_sources`), and returns one
frozen :class:`IlsSettings`: the job system's settings (queues, Redis, paths) at the top, the
``web``, ``mail``, ``chat``, ``retention``, ``webhooks`` and ``quotas`` sections beside them. A
section's values are validated when a process first needs it (``mail_settings()``...), so
``ils queue stats`` runs with a broken SMTP setting while the email worker refuses to start with
it. Nothing else reads ``os.environ`` for settings; children of ``ils serve --processes`` get
this object serialized.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from ils.errors import ConfigurationError
from ils.queue.settings import DEFAULT_QUEUES, QUEUE_NAMES, Settings
from ils.settings_sources import EnvSource, TomlSource, check_paths, config_path, flatten, nest

if TYPE_CHECKING:
    from ils.jobs.ai.chat.settings import ChatSettings
    from ils.jobs.email.settings import MailSettings
    from ils.jobs.scheduled.settings import RetentionSettings
    from ils.jobs.webhooks.settings import WebhookSettings
    from ils.web.quota_settings import QuotaRule
    from ils.web.settings import WebSettings

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]
M = TypeVar("M", bound=BaseModel)


class IlsSettings(BaseSettings, Settings):
    """Everything one ILS process is configured with. It *is* the job system's
    :class:`~ils.queue.settings.Settings` (so the queue layer takes it as is), plus the paths,
    logging and the sections the web app, the email and the chat jobs read."""

    model_config = SettingsConfigDict(frozen=True, extra="forbid")

    log_level: LogLevel = "INFO"
    log_format: Literal["text", "json"] = "text"
    # The sections hold their values as given (secrets among them) until validated into their
    # own models, which keep secrets as SecretStr: never in a repr, so never in a log line.
    database_url: str | None = Field(None, repr=False, description="None: SQLite in var_dir")
    files_dir: Path | None = Field(None, description="None: <var_dir>/files")
    oma_dir: Path | None = Field(None, description="the OMA drop folder; None: <var_dir>/oma")
    public_url: str | None = Field(None, description="where users reach the app (web, mail)")
    web: dict[str, Any] = Field(default_factory=dict, repr=False)
    mail: dict[str, Any] = Field(default_factory=dict, repr=False)
    chat: dict[str, Any] = Field(default_factory=dict, repr=False)
    retention: dict[str, Any] = Field(default_factory=dict)
    webhooks: dict[str, Any] = Field(default_factory=dict)
    quotas: dict[str, dict[str, Any]] = Field(default_factory=dict)
    # Dotted path -> the variable, file key or option its value came from (for error messages).
    origins: dict[str, str] = Field(default_factory=dict)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Built by load_settings from the sources it reads itself: never from a hidden one.
        return (init_settings,)

    @property
    def files_root(self) -> Path:
        return self.files_dir if self.files_dir is not None else self.var_dir / "files"

    @property
    def oma_root(self) -> Path:
        return self.oma_dir if self.oma_dir is not None else self.var_dir / "oma"

    def resolved_database_url(self) -> str:
        """``database_url`` with its async driver, or the SQLite file under ``var_dir``."""
        from ils.domain.db import database_url

        given = {"DATABASE_URL": self.database_url} if self.database_url else {}
        return database_url(given, self.var_dir)

    def web_settings(self) -> WebSettings:
        """The web section, validated; without a secret key, the one kept under ``var_dir``."""
        from ils.web.settings import WebSettings, stored_secret_key

        data = {**self._with_public_url(self.web), "quotas": self.quota_rules()}
        if "secret_key" not in data:
            data["secret_key"] = stored_secret_key(self.var_dir)
        return self._section(WebSettings, data, "web")

    def quota_rules(self) -> dict[str, QuotaRule]:
        from ils.web.quota_settings import DEFAULT_QUOTAS, QuotaRule

        rules = dict(DEFAULT_QUOTAS)
        for kind, fields in self.quotas.items():
            rules[kind] = self._section(
                QuotaRule, rules[kind].model_dump() | fields, f"quotas.{kind}"
            )
        return rules

    def mail_settings(self) -> MailSettings:
        """The mail section, validated; the file transport writes under ``<var_dir>/mail``."""
        from ils.jobs.email.settings import MailSettings

        data = {**self._with_public_url(self.mail), "mail_dir": self.var_dir / "mail"}
        return self._section(MailSettings, data, "mail")

    def chat_settings(self) -> ChatSettings:
        from ils.jobs.ai.chat.settings import ChatSettings

        return self._section(ChatSettings, self.chat, "chat")

    def webhook_settings(self) -> WebhookSettings:
        """The webhooks section, validated: the SSRF guard's allow-list, timeout, disabling."""
        from ils.jobs.webhooks.settings import WebhookSettings

        return self._section(WebhookSettings, self.webhooks, "webhooks")

    def retention_settings(self) -> RetentionSettings:
        """The retention section, validated: how long the hourly retention job keeps things."""
        from ils.jobs.scheduled.settings import CREDENTIAL_LIFETIMES, RetentionSettings
        from ils.web.settings import WebSettings

        lifetimes = {
            name: self.web.get(name, WebSettings.model_fields[name].default)
            for name in CREDENTIAL_LIFETIMES
        }
        return self._section(RetentionSettings, {**self.retention, **lifetimes}, "retention")

    def _with_public_url(self, section: Mapping[str, Any]) -> dict[str, Any]:
        given = {"public_url": self.public_url} if self.public_url else {}
        return {**given, **section}

    def _section(self, model: type[M], data: Mapping[str, Any], where: str) -> M:
        try:
            return model.model_validate(dict(data))
        except ValidationError as exc:
            raise ConfigurationError(
                f"invalid {where} settings: {problems(exc, where, self.origins)}"
            ) from exc


def problems(exc: ValidationError, where: str, origins: Mapping[str, str]) -> str:
    """Pydantic's errors, each named by where its value came from (variable, file key)."""
    out = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"])
        if not loc:
            out.append(err["msg"].removeprefix("Value error, "))
            continue
        path = f"{where}.{loc}" if where else loc
        origin = origins.get(path) or origins.get(loc)
        out.append(f"{origin}: {err['msg']} ({path})" if origin else f"{path}: {err['msg']}")
    return "; ".join(out)


def _defaults() -> dict[str, Any]:
    return {"queues": {q: DEFAULT_QUEUES[q].model_dump(exclude_unset=True) for q in QUEUE_NAMES}}


def _merge(base: dict[str, Any], update: Mapping[str, Any]) -> dict[str, Any]:
    for key, value in update.items():
        if isinstance(value, Mapping) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    cli: Mapping[str, Any] | None = None,
) -> IlsSettings:
    """The one :class:`IlsSettings` of this process: defaults < TOML file (``config_file``, else
    ``ILS_CONFIG``, else ``./ils.toml``) < ``env`` (default: this process's environment) <
    ``cli`` (dotted paths, e.g. ``{"log_level": "DEBUG"}``). Unknown names and bad values raise
    :class:`ConfigurationError` naming the variable, key or option."""
    env = os.environ if env is None else env
    data = _defaults()
    origins: dict[str, str] = {}
    path = config_path(env, config_file)
    if path is not None:
        toml = TomlSource(IlsSettings, path)
        _merge(data, toml())
        origins.update(toml.origins)
    from_env = EnvSource(IlsSettings, env)
    _merge(data, from_env())
    origins.update(from_env.origins)
    given = {k: v for k, v in (cli or {}).items() if v is not None}
    check_paths(nest(given), "the command-line options")
    _merge(data, nest(given))
    origins.update({p: f"option {p}" for p, _v in flatten(nest(given))})
    data["origins"] = origins
    try:
        return IlsSettings.model_validate(data)
    except ValidationError as exc:
        raise ConfigurationError(f"invalid settings: {problems(exc, '', origins)}") from exc


def load_web_settings(env: Mapping[str, str], var_dir: Path = Path("var")) -> WebSettings:
    """The web section of the settings ``env`` gives, with ``var_dir`` (tests, tools)."""
    return load_settings(env, cli={"var_dir": var_dir}).web_settings()


def load_mail_settings(env: Mapping[str, str], var_dir: Path = Path("var")) -> MailSettings:
    """The mail section of the settings ``env`` gives, with ``var_dir`` (tests, tools)."""
    return load_settings(env, cli={"var_dir": var_dir}).mail_settings()


def load_chat_settings(env: Mapping[str, str]) -> ChatSettings:
    """The chat section of the settings ``env`` gives (tests, tools)."""
    return load_settings(env).chat_settings()
