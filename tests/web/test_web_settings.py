"""Web settings: the generated secret key file, env values, and start-up failures on bad input."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from ils.bootstrap import JobSystem
from ils.errors import ConfigurationError
from ils.queue.settings import Settings
from ils.settings import load_web_settings
from ils.web.app import create_app
from tests.conftest import make_settings

KEY = "k" * 40


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_without_a_key_one_is_generated_once_and_kept_private(tmp_path: Path):
    var = tmp_path / "var"
    first = load_web_settings({}, var)
    key_file = var / "secret_key"
    assert mode(key_file) == 0o600
    assert len(first.secret_key.get_secret_value()) >= 32
    assert load_web_settings({}, var).secret_key == first.secret_key
    assert KEY not in repr(load_web_settings({"ILS_SECRET_KEY": KEY}, var))  # never printed


def test_defaults_and_values_from_the_environment(tmp_path: Path):
    defaults = load_web_settings({}, tmp_path)
    assert defaults.public_url == "http://127.0.0.1:8000" and defaults.cookie_secure is False
    assert (defaults.session_idle_s, defaults.session_absolute_s) == (12 * 3600, 7 * 24 * 3600)
    assert (defaults.token_idle_s, defaults.token_absolute_s) == (12 * 3600, 7 * 24 * 3600)
    assert defaults.session_recheck_s == 60
    assert (defaults.login_max_failures, defaults.login_window_s) == (5, 900)
    chosen = load_web_settings(
        {
            "ILS_SECRET_KEY": KEY,
            "ILS_PUBLIC_URL": "https://localhost:8443/",
            "ILS_COOKIE_SECURE": "true",
            "ILS_SESSION_IDLE_S": "600",
            "ILS_SESSION_ABSOLUTE_S": "3600",
            "ILS_TOKEN_IDLE_S": "86400",
            "ILS_TOKEN_ABSOLUTE_S": "2592000",
            "ILS_LOGIN_MAX_FAILURES": "3",
            "ILS_LOGIN_WINDOW_S": "60",
        },
        tmp_path / "unused",
    )
    assert chosen.secret_key.get_secret_value() == KEY
    assert chosen.public_url == "https://localhost:8443" and chosen.cookie_secure is True
    assert (chosen.session_idle_s, chosen.session_absolute_s) == (600, 3600)
    assert (chosen.token_idle_s, chosen.token_absolute_s) == (86400, 30 * 86400)
    assert (chosen.login_max_failures, chosen.login_window_s) == (3, 60)
    assert not (tmp_path / "unused").exists()  # a key from the environment writes no file


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"ILS_SECRET_KEY": "short"}, "ILS_SECRET_KEY: .*at least 32"),
        ({"ILS_COOKIE_SECURE": "sometimes"}, "ILS_COOKIE_SECURE"),
        ({"ILS_SESSION_IDLE_S": "12h"}, "ILS_SESSION_IDLE_S"),
        ({"ILS_SESSION_ABSOLUTE_S": "59"}, "ILS_SESSION_ABSOLUTE_S: .*greater than or equal to 60"),
        ({"ILS_TOKEN_IDLE_S": "-1"}, "ILS_TOKEN_IDLE_S"),
        ({"ILS_SESSION_RECHECK_S": "0"}, "ILS_SESSION_RECHECK_S"),
        ({"ILS_TOKEN_ABSOLUTE_S": str(400 * 86400)}, "ILS_TOKEN_ABSOLUTE_S"),
        (
            {"ILS_SESSION_IDLE_S": "7200", "ILS_SESSION_ABSOLUTE_S": "3600"},
            r"ILS_SESSION_IDLE_S \(7200\) must not exceed ILS_SESSION_ABSOLUTE_S \(3600\)",
        ),
        (
            {"ILS_TOKEN_IDLE_S": "700000"},  # above the 7-day default absolute lifetime
            r"ILS_TOKEN_IDLE_S \(700000\) must not exceed ILS_TOKEN_ABSOLUTE_S",
        ),
        ({"ILS_SESSION_MAX_AGE_S": "3600"}, "no longer read; use ILS_SESSION_ABSOLUTE_S"),
        ({"ILS_TOKEN_IDEL_S": "60"}, "did you mean ILS_TOKEN_IDLE_S"),
        ({"ILS_LOGIN_MAX_FAILURES": "0"}, "ILS_LOGIN_MAX_FAILURES"),
        (
            {"ILS_PUBLIC_URL": "ftp://localhost"},
            "ILS_PUBLIC_URL: .*http.*e.g. https://localhost:8443",
        ),
        ({"ILS_SESSION_IDLE": "60"}, "did you mean ILS_SESSION_IDLE_S"),
        ({"ILS_SESION_ABSOLUTE_S": "60"}, "did you mean ILS_SESSION_ABSOLUTE_S"),
        ({"ILS_COOKIE_DOMAIN": "x"}, "unknown setting ILS_COOKIE_DOMAIN.*did you mean"),
    ],
)
def test_invalid_or_unknown_values_fail_with_a_clear_message(
    tmp_path: Path, env: dict[str, str], message: str
):
    with pytest.raises(ConfigurationError, match=message):
        load_web_settings(env, tmp_path)


def test_a_rejected_secret_key_is_not_echoed(tmp_path: Path):
    with pytest.raises(ConfigurationError) as caught:
        load_web_settings({"ILS_SECRET_KEY": "hunter2-but-short"}, tmp_path)
    assert "hunter2" not in str(caught.value)


def test_other_ils_settings_are_not_mistaken_for_web_ones(tmp_path: Path):
    other = {"ILS_VAR_DIR": "var", "ILS_QUEUE_EMAIL_CONCURRENCY": "2"}
    # Neither is refused as an unknown web setting, nor changes one.
    assert load_web_settings(other, tmp_path) == load_web_settings({}, tmp_path)


def test_a_loose_key_file_is_tightened_and_an_empty_one_refused(tmp_path: Path):
    key_file = tmp_path / "secret_key"
    key_file.write_text(KEY)
    key_file.chmod(0o644)
    assert load_web_settings({}, tmp_path).secret_key.get_secret_value() == KEY
    assert mode(key_file) == 0o600
    key_file.write_text("\n")
    with pytest.raises(ConfigurationError, match="delete it to generate a new one"):
        load_web_settings({}, tmp_path)


async def test_create_app_fails_at_start_up_on_a_bad_value(
    redis_url: str, prefix: str, tmp_path: Path
):
    env = {"ILS_COOKIE_SECURE": "sometimes"}
    system = JobSystem(make_settings(redis_url, prefix, tmp_path, env=env))
    try:
        with pytest.raises(ConfigurationError, match="ILS_COOKIE_SECURE"):
            create_app(system, run_workers=False)
    finally:
        await system.close()


async def test_create_app_keeps_its_key_under_the_systems_var_dir(settings: Settings):
    system = JobSystem(settings)
    try:
        create_app(system, run_workers=False)
        assert mode(settings.var_dir / "secret_key") == 0o600
    finally:
        await system.close()
