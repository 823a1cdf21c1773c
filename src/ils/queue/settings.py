"""Settings of ILS Jobs: the six queues' specs and the process-wide settings, validated once.

Values come from defaults, then a TOML file (``ILS_CONFIG`` or ``./ils.toml``), then the
environment (``REDIS_URL``/``REDIS_HOST``..., ``ILS_QUEUE_<QUEUE>_<FIELD>``). Unknown names fail
at start-up with a "did you mean" suggestion; nothing falls back silently.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ils.queue.errors import ConfigurationError

QUEUE_NAMES: tuple[str, ...] = ("email", "pdf", "notification", "ai", "oma", "scheduled")

BackoffKind = Literal["exponential", "fixed", "exponential_jitter"]
# What an enqueue does when Redis is unreachable: ``spool`` writes the job to the outbox (the
# relay delivers it when Redis returns), ``inline`` runs it now in-process, ``raise`` raises.
FallbackPolicy = Literal["spool", "inline", "raise"]

DAY_S = 24 * 3600

_M = TypeVar("_M", bound=BaseModel)


class QueueSpec(BaseModel):
    """How one queue runs: concurrency, rate limit, retries, locks, retention, fallback."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    concurrency: int = Field(1, ge=1, le=1000)
    rate_max: int | None = Field(None, ge=1, description="jobs per rate window; None = no limit")
    rate_duration_ms: int = Field(60_000, ge=1)
    attempts: int = Field(3, ge=1, le=100)
    backoff: BackoffKind = "exponential_jitter"
    backoff_delay_ms: int = Field(2_000, ge=0)
    lock_duration_ms: int = Field(30_000, ge=1_000)
    stalled_interval_ms: int = Field(30_000, ge=500)
    max_stalled_count: int = Field(1, ge=0)
    # BullMQ blocks this long on an empty queue; with a limiter or a global concurrency it must
    # be short (guard 4). Both can be set at run time by an admin, so the default is short always.
    drain_delay_s: float | None = Field(None, gt=0, le=10)
    keep_completed_age_s: int = Field(DAY_S, ge=0)
    keep_completed_count: int = Field(10_000, ge=0)
    keep_failed_age_s: int = Field(7 * DAY_S, ge=0)
    keep_failed_count: int = Field(50_000, ge=0)
    fallback: FallbackPolicy = "raise"

    @property
    def effective_drain_delay_s(self) -> float:
        if self.drain_delay_s is not None:
            return self.drain_delay_s
        return 1.0

    @property
    def stall_recovery_bound_s(self) -> float:
        """Upper bound on how long a job held by a dead worker waits to be recovered (guard 9)."""
        return (self.lock_duration_ms + 2 * self.stalled_interval_ms) / 1000


DEFAULT_QUEUES: dict[str, QueueSpec] = {
    "email": QueueSpec(
        concurrency=5, rate_max=100, rate_duration_ms=60_000, attempts=3, fallback="spool"
    ),
    "pdf": QueueSpec(
        concurrency=3,
        rate_max=20,
        rate_duration_ms=60_000,
        attempts=3,
        lock_duration_ms=60_000,
        fallback="spool",
    ),
    "notification": QueueSpec(
        concurrency=10, rate_max=200, rate_duration_ms=60_000, attempts=3, fallback="spool"
    ),
    "ai": QueueSpec(
        concurrency=2,
        rate_max=10,
        rate_duration_ms=60_000,
        attempts=2,
        backoff_delay_ms=5_000,
        lock_duration_ms=120_000,
        stalled_interval_ms=60_000,
        fallback="raise",
    ),
    "oma": QueueSpec(concurrency=2, attempts=3, fallback="raise"),
    "scheduled": QueueSpec(concurrency=1, attempts=3, lock_duration_ms=60_000, fallback="raise"),
}


class Settings(BaseModel):
    """Everything a producer, worker or admin process needs; built by :func:`load_settings`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    redis_url: str | None = Field(None, description="None: start or reuse the embedded server")
    prefix: str = Field("bull", min_length=1, pattern=r"^[A-Za-z0-9_.:-]+$")
    var_dir: Path = Path("var")
    embedded_port: int = Field(0, ge=0, le=65535, description="0: pick a free port once, keep it")
    shutdown_grace_s: float = Field(30.0, ge=0)
    heartbeat_interval_s: float = Field(10.0, gt=0)
    worker_restart_limit: int = Field(5, ge=0, description="restarts per queue before exiting")
    redis_wait_s: float | None = Field(
        None, description="how long a worker waits for Redis at start; None = forever"
    )
    # The web comes first: the workers running inside a web process stop taking jobs while its
    # event loop lags more than this, and take them again once it is back under the resume level.
    loop_lag_pause_ms: float = Field(50.0, gt=0, le=60_000)
    loop_lag_resume_ms: float | None = Field(
        None, gt=0, description="None: half of loop_lag_pause_ms"
    )
    imports: tuple[str, ...] = ()
    queues: dict[str, QueueSpec] = Field(default_factory=lambda: dict(DEFAULT_QUEUES))

    @model_validator(mode="after")
    def _all_queues_present(self) -> Settings:
        missing = [q for q in QUEUE_NAMES if q not in self.queues]
        if missing:
            raise ValueError(f"queues missing: {', '.join(missing)}")
        resume = self.loop_lag_resume_ms
        if resume is not None and resume >= self.loop_lag_pause_ms:
            raise ValueError(
                "loop_lag_resume_ms must be below loop_lag_pause_ms "
                f"({self.loop_lag_resume_ms} >= {self.loop_lag_pause_ms})"
            )
        return self

    @property
    def effective_loop_lag_resume_ms(self) -> float:
        if self.loop_lag_resume_ms is not None:
            return self.loop_lag_resume_ms
        return self.loop_lag_pause_ms / 2

    def queue(self, name: str) -> QueueSpec:
        check_queue_name(name)
        return self.queues[name]

    @property
    def redis_dir(self) -> Path:
        return self.var_dir / "redis"


TOP_LEVEL_KEYS = tuple(Settings.model_fields)
QUEUE_FIELDS = tuple(QueueSpec.model_fields)


def _unknown(kind: str, name: str, choices: tuple[str, ...] | list[str], where: str = "") -> str:
    near = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    hint = f"; did you mean '{near[0]}'?" if near else f"; valid: {', '.join(choices)}"
    at = f" in {where}" if where else ""
    return f"unknown {kind} '{name}'{at}{hint}"


def check_queue_name(name: str) -> None:
    """Raise :class:`ConfigurationError` with a suggestion unless ``name`` is one of the six."""
    if name not in QUEUE_NAMES:
        raise ConfigurationError(_unknown("queue", name, QUEUE_NAMES))


def redis_url_from_env(env: Mapping[str, str]) -> str | None:
    """``REDIS_URL``, else ``REDIS_HOST``/``REDIS_PORT``/``REDIS_PASSWORD`` (the seed's names)."""
    if env.get("REDIS_URL"):
        return env["REDIS_URL"]
    host = env.get("REDIS_HOST")
    port = env.get("REDIS_PORT")
    if not host and not port:
        return None
    password = env.get("REDIS_PASSWORD")
    auth = f":{quote(password, safe='')}@" if password else ""
    return f"redis://{auth}{host or 'localhost'}:{port or '6379'}/0"


def _queue_overrides_from_env(env: Mapping[str, str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key, value in env.items():
        if not key.startswith("ILS_QUEUE_"):
            continue
        rest = key[len("ILS_QUEUE_") :].lower()
        queue, _, field = rest.partition("_")
        if queue not in QUEUE_NAMES:
            raise ConfigurationError(_unknown("queue", queue, QUEUE_NAMES, key))
        if field not in QUEUE_FIELDS:
            raise ConfigurationError(_unknown("queue field", field, QUEUE_FIELDS, key))
        out.setdefault(queue, {})[field] = value
    return out


def _env_value(raw: str) -> str | None:
    return None if raw.strip().lower() in ("", "none", "null") else raw


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: not valid TOML: {exc}") from exc
    for key in data:
        if key not in TOP_LEVEL_KEYS:
            raise ConfigurationError(_unknown("setting", key, TOP_LEVEL_KEYS, str(path)))
    for queue, fields in (data.get("queues") or {}).items():
        if queue not in QUEUE_NAMES:
            raise ConfigurationError(_unknown("queue", queue, QUEUE_NAMES, str(path)))
        for field in fields:
            if field not in QUEUE_FIELDS:
                raise ConfigurationError(
                    _unknown("queue field", field, QUEUE_FIELDS, f"{path} [queues.{queue}]")
                )
    return data


def load_settings(
    env: Mapping[str, str] | None = None,
    config_file: Path | None = None,
    **overrides: Any,
) -> Settings:
    """Build the one validated :class:`Settings` object for this process."""
    env = os.environ if env is None else env
    data: dict[str, Any] = {}
    path = config_file or (Path(env["ILS_CONFIG"]) if env.get("ILS_CONFIG") else None)
    if path is None and Path("ils.toml").is_file():
        path = Path("ils.toml")
    if path is not None:
        if not path.is_file():
            raise ConfigurationError(f"config file not found: {path}")
        data = _read_toml(path)

    url = redis_url_from_env(env)
    if url:
        data["redis_url"] = url
    simple = {
        "ILS_REDIS_PREFIX": "prefix",
        "ILS_VAR_DIR": "var_dir",
        "ILS_EMBEDDED_PORT": "embedded_port",
        "ILS_SHUTDOWN_GRACE_S": "shutdown_grace_s",
        "ILS_HEARTBEAT_INTERVAL_S": "heartbeat_interval_s",
        "ILS_LOOP_LAG_PAUSE_MS": "loop_lag_pause_ms",
        "ILS_LOOP_LAG_RESUME_MS": "loop_lag_resume_ms",
    }
    for name, field in simple.items():
        if env.get(name):
            data[field] = env[name]
    if env.get("ILS_IMPORTS"):
        data["imports"] = tuple(m.strip() for m in env["ILS_IMPORTS"].split(",") if m.strip())

    queues: dict[str, dict[str, Any]] = {
        q: DEFAULT_QUEUES[q].model_dump(exclude_unset=True) for q in QUEUE_NAMES
    }
    for q, fields in (data.pop("queues", None) or {}).items():
        queues[q].update(fields)
    for q, fields in _queue_overrides_from_env(env).items():
        queues[q].update({k: _env_value(v) for k, v in fields.items()})
    data.update(overrides)
    data.setdefault("queues", queues)

    built: dict[str, QueueSpec] = {}
    for q, fields in data["queues"].items():
        built[q] = fields if isinstance(fields, QueueSpec) else _validated(QueueSpec, fields, q)
    data["queues"] = built
    return _validated(Settings, data, "")


def env_errors(exc: ValidationError, env_fields: Mapping[str, str], fallback: str) -> str:
    """Pydantic's errors named by the environment variable each field came from
    (``env_fields`` maps variable -> field), for settings read from the environment."""
    names = {field: name for name, field in env_fields.items()}
    return "; ".join(
        f"{names.get(str(err['loc'][0]), err['loc'][0]) if err['loc'] else fallback}: {err['msg']}"
        for err in exc.errors()
    )


def _validated(model: type[_M], data: Any, where: str) -> _M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        scope = f"queues.{where}." if where else ""
        problems = "; ".join(
            f"{scope}{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"invalid settings: {problems}") from exc
