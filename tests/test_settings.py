"""Settings: the six queues' defaults, environment and TOML overrides, and start-up validation
that names the unknown queue or field and suggests the nearest valid one."""

from __future__ import annotations

from pathlib import Path

import pytest

from ils.errors import ConfigurationError
from ils.queue.runtime import parse_queues, worker_options
from ils.queue.settings import QUEUE_FIELDS, QUEUE_NAMES
from ils.settings import load_settings
from ils.settings_sources import redis_url_from_env


def test_the_six_queues_have_the_architecture_defaults():
    s = load_settings({})
    assert tuple(s.queues) == QUEUE_NAMES
    table = {
        "email": (5, 100, 60_000),
        "pdf": (3, 20, 60_000),
        "notification": (10, 200, 60_000),
        "ai": (2, 10, 60_000),
    }
    for queue, (concurrency, rate_max, duration) in table.items():
        spec = s.queue(queue)
        assert (spec.concurrency, spec.rate_max, spec.rate_duration_ms) == (
            concurrency, rate_max, duration,
        )  # fmt: skip
    assert s.queue("ai").attempts == 2
    assert s.queue("ai").lock_duration_ms == 120_000
    assert s.queue("pdf").attempts == 3
    for queue in QUEUE_NAMES:
        spec = s.queue(queue)
        assert spec.keep_completed_age_s == 24 * 3600
        assert spec.keep_failed_age_s == 7 * 24 * 3600
        assert spec.keep_completed_count > 0 and spec.keep_failed_count > 0  # always bounded
        assert spec.backoff.startswith("exponential")
    assert s.queue("oma").rate_max is None and s.queue("scheduled").rate_max is None


def test_worker_options_carry_every_setting_to_bullmq():
    s = load_settings({})
    opts = worker_options(s, s.queue("ai"), connection=None, name="w1")
    assert opts["concurrency"] == 2
    assert opts["limiter"] == {"max": 10, "duration": 60_000}
    assert opts["lockDuration"] == 120_000
    assert opts["drainDelay"] == 1.0
    assert opts["removeOnFail"] == {"age": 7 * 24 * 3600, "count": 50_000}
    assert "limiter" not in worker_options(s, s.queue("oma"), None, "w1")


def test_environment_overrides_each_field():
    s = load_settings(
        {
            "ILS_QUEUE_EMAIL_CONCURRENCY": "12",
            "ILS_QUEUE_PDF_RATE_MAX": "none",
            "ILS_QUEUE_AI_FALLBACK": "inline",
            "ILS_REDIS_PREFIX": "ils-prod",
            "REDIS_HOST": "cache.internal",
            "REDIS_PORT": "6380",
            "REDIS_PASSWORD": "s3cr:t",
        }
    )
    assert s.queue("email").concurrency == 12
    assert s.queue("pdf").rate_max is None
    assert s.queue("ai").fallback == "inline"
    assert s.prefix == "ils-prod"
    assert s.redis_url == "redis://:s3cr%3At@cache.internal:6380/0"


def test_redis_url_wins_over_host_and_port_and_none_means_embedded():
    assert redis_url_from_env({"REDIS_URL": "redis://a:1/2", "REDIS_HOST": "b"}) == "redis://a:1/2"
    assert redis_url_from_env({}) is None
    assert load_settings({}).redis_url is None


def test_toml_file_overrides_and_environment_wins_over_it(tmp_path: Path):
    cfg = tmp_path / "ils.toml"
    cfg.write_text('prefix = "from-file"\n[queues.pdf]\nconcurrency = 7\nattempts = 4\n')
    s = load_settings({"ILS_QUEUE_PDF_ATTEMPTS": "6"}, config_file=cfg)
    assert s.prefix == "from-file"
    assert s.queue("pdf").concurrency == 7
    assert s.queue("pdf").attempts == 6


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ILS_QUEUE_EMIAL_CONCURRENCY": "1"},
            "unknown setting ILS_QUEUE_EMIAL_CONCURRENCY in the environment; "
            "did you mean ILS_QUEUE_EMAIL_CONCURRENCY",
        ),
        ({"ILS_QUEUE_PDF_CONCURENCY": "1"}, "did you mean ILS_QUEUE_PDF_CONCURRENCY"),
        ({"ILS_QUEUE_AI_RATE_MAXX": "1"}, "did you mean ILS_QUEUE_AI_RATE_MAX"),
        ({"ILS_QUEUE_EMAIL_CONCURRENCY": "lots"}, "queues.email.concurrency"),
        ({"ILS_QUEUE_EMAIL_CONCURRENCY": "0"}, "queues.email.concurrency"),
        ({"ILS_QUEUE_OMA_FALLBACK": "ignore"}, "queues.oma.fallback"),
        ({"ILS_HEARTBEAT_INTERVAL_S": "-1"}, "heartbeat_interval_s"),
    ],
)
def test_bad_environment_fails_at_start_up_naming_it(env: dict[str, str], message: str):
    with pytest.raises(ConfigurationError, match=message):
        load_settings(env)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("prefx = 'a'\n", "unknown setting prefx in .*ils.toml; did you mean prefix"),
        (
            "[queues.nottification]\nconcurrency = 1\n",
            "did you mean queues.notification.concurrency",
        ),
        ("[queues.ai]\nlock_duration = 1\n", "did you mean queues.ai.lock_duration_ms"),
        ("[queues.ai\n", "not valid TOML"),
    ],
)
def test_bad_toml_fails_at_start_up_naming_it(tmp_path: Path, text: str, message: str):
    cfg = tmp_path / "ils.toml"
    cfg.write_text(text)
    with pytest.raises(ConfigurationError, match=message):
        load_settings({}, config_file=cfg)


def test_a_missing_config_file_is_an_error(tmp_path: Path):
    with pytest.raises(ConfigurationError, match="not found"):
        load_settings({"ILS_CONFIG": str(tmp_path / "nope.toml")})


def test_queue_lists_are_checked():
    assert parse_queues("email, pdf,email") == ("email", "pdf")
    assert parse_queues(None) == QUEUE_NAMES
    with pytest.raises(ConfigurationError, match="did you mean 'scheduled'"):
        parse_queues("email,schedule")


FIELD_VALUES = {
    "concurrency": ("4", 4), "rate_max": ("50", 50), "rate_duration_ms": ("1000", 1000),
    "attempts": ("7", 7), "backoff": ("fixed", "fixed"), "backoff_delay_ms": ("1500", 1500),
    "lock_duration_ms": ("45000", 45000), "stalled_interval_ms": ("15000", 15000),
    "max_stalled_count": ("2", 2), "drain_delay_s": ("2.5", 2.5),
    "keep_completed_age_s": ("3600", 3600), "keep_completed_count": ("100", 100),
    "keep_failed_age_s": ("7200", 7200), "keep_failed_count": ("200", 200),
    "keep_failed_bytes": ("1048576", 1048576),
    "redis_url": ("redis://127.0.0.1:6390/2", "redis://127.0.0.1:6390/2"),
    "cluster_tag": ("email", "email"),
}  # fmt: skip


def test_every_queue_field_is_reachable_from_the_environment():
    assert set(FIELD_VALUES) | {"fallback"} == set(QUEUE_FIELDS)
    for queue in QUEUE_NAMES:
        for field, (raw, parsed) in FIELD_VALUES.items():
            s = load_settings({f"ILS_QUEUE_{queue.upper()}_{field.upper()}": raw})
            assert getattr(s.queue(queue), field) == parsed, (queue, field)
        other = "raise" if load_settings({}).queue(queue).fallback == "inline" else "inline"
        s = load_settings({f"ILS_QUEUE_{queue.upper()}_FALLBACK": other})
        assert s.queue(queue).fallback == other
