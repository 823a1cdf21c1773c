"""The root settings object: one source order (defaults < ils.toml < environment < options), one
unknown-name check across the sources, the database every command agrees on, the settings handed
to the processes of ``serve --processes``, and commands that need only Redis."""

from __future__ import annotations

import json
import multiprocessing
import os
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from typer.testing import CliRunner

from ils.cli import app
from ils.cli_base import ready_to_run
from ils.errors import ConfigurationError
from ils.settings import load_settings
from ils.web import factory


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_options_beat_the_environment_which_beats_the_file(tmp_path: Path):
    cfg = write(
        tmp_path / "ils.toml",
        'log_level = "WARNING"\nprefix = "file"\nheartbeat_interval_s = 3\n'
        '[queues.pdf]\nconcurrency = 7\nattempts = 4\n[mail]\nsmtp_host = "file.example"\n'
        "[quotas.pdf]\nuser = 3\n",
    )
    env = {"ILS_LOG_LEVEL": "ERROR", "ILS_REDIS_PREFIX": "env", "ILS_QUEUE_PDF_ATTEMPTS": "6",
           "ILS_SMTP_HOST": "env.example"}  # fmt: skip
    s = load_settings(env, config_file=cfg, cli={"log_level": "DEBUG", "queues.pdf.attempts": 9})
    assert s.log_level == "DEBUG"  # option > environment > file
    assert s.prefix == "env"  # environment > file
    assert s.heartbeat_interval_s == 3  # file > default
    assert (s.queue("pdf").concurrency, s.queue("pdf").attempts) == (7, 9)
    assert s.queue("email").concurrency == 5  # untouched queues keep their defaults
    assert s.mail_settings().smtp_host == "env.example"
    assert s.quota_rules()["pdf"].user == 3
    assert load_settings({}, config_file=cfg).log_level == "WARNING"
    assert load_settings({}).log_level == "INFO" and load_settings({}).log_format == "text"


@pytest.mark.parametrize(
    ("source", "name", "message"),
    [
        ("env", "ILS_SMTP_PROT", "unknown setting ILS_SMTP_PROT in the environment; "
                                 "did you mean ILS_SMTP_PORT?"),
        ("env", "ILS_LOG_LEVL", "did you mean ILS_LOG_LEVEL?"),
        ("env", "ILS_FILES_DIRS", "did you mean ILS_FILES_DIR?"),
        ("toml", "[mail]\nsmtp_hots = 'x'\n", r"unknown setting mail.smtp_hots in .*ils.toml; "
                                               r"did you mean mail.smtp_host\?"),
        ("toml", "[chat]\nmodle = 'x'\n", "did you mean chat.model?"),
        ("toml", "[quotas.pfd]\nuser = 3\n", "did you mean quotas.pdf.user?"),
        ("toml", "log_formt = 'json'\n", "did you mean log_format?"),
        ("cli", "log_levle", "unknown setting log_levle in the command-line options; "
                             "did you mean log_level?"),
    ],
)  # fmt: skip
def test_an_unknown_name_in_any_source_is_refused_with_a_suggestion(
    tmp_path: Path, source: str, name: str, message: str
):
    with pytest.raises(ConfigurationError, match=message):
        if source == "env":
            load_settings({name: "1"})
        elif source == "toml":
            load_settings({}, config_file=write(tmp_path / "ils.toml", name))
        else:
            load_settings({}, cli={name: "DEBUG"})


def test_a_bad_value_names_the_variable_or_the_file_key_it_came_from(tmp_path: Path):
    cfg = write(tmp_path / "ils.toml", "[mail]\nsmtp_port = 'many'\n")
    with pytest.raises(ConfigurationError, match=r"ils.toml key mail.smtp_port: .*integer"):
        load_settings({}, config_file=cfg).mail_settings()
    with pytest.raises(ConfigurationError, match=r"ILS_SMTP_PORT: .*integer"):
        load_settings({"ILS_SMTP_PORT": "many"}, config_file=cfg).mail_settings()
    pool = write(tmp_path / "pool.toml", "[mail]\nsmtp_connections = 0\n")
    with pytest.raises(ConfigurationError, match=r"pool.toml key mail.smtp_connections: .*1"):
        load_settings({}, config_file=pool).mail_settings()
    with pytest.raises(ConfigurationError, match=r"ILS_LOG_FORMAT: .*'text' or 'json'"):
        load_settings({"ILS_LOG_FORMAT": "xml"})


def test_db_upgrade_and_serve_use_the_database_of_the_var_dir_set_in_the_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    for name in ("ILS_VAR_DIR", "DATABASE_URL", "ILS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    write(tmp_path / "ils.toml", 'var_dir = "elsewhere"\n')
    upgraded = CliRunner().invoke(app, ["db", "upgrade"])
    assert upgraded.exit_code == 0, upgraded.output
    assert (tmp_path / "elsewhere" / "ils.db").is_file()
    assert not (tmp_path / "var").exists()
    settings = load_settings()
    assert settings.resolved_database_url().endswith(str(tmp_path / "elsewhere" / "ils.db"))
    ready_to_run(settings)  # what serve and worker check: the database is migrated
    current = CliRunner().invoke(app, ["db", "current", "--check"])
    assert current.exit_code == 0 and "elsewhere" in current.output, current.output


def seen_by_a_web_process(config: uvicorn.Config) -> dict[str, Any]:
    """Run in a spawned child, as uvicorn's supervisor runs each web process."""
    handoff = config.app.args[0]
    settings = handoff.settings()
    return {
        "log_level": settings.log_level,
        "redis_url": settings.redis_url,
        "queues": handoff.queues,
        "run_workers": handoff.run_workers,
        "env_names": sorted(n for n in os.environ if n.startswith(("ILS_", "REDIS_"))),
    }


def test_serve_processes_hand_their_settings_over_without_touching_the_environment(
    worker_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
):
    children: list[dict[str, Any]] = []

    def run_in_a_child(config: uvicorn.Config) -> None:
        with multiprocessing.get_context("spawn").Pool(1) as pool:
            children.append(pool.apply(seen_by_a_web_process, (config,)))

    monkeypatch.setattr(factory, "run_processes", run_in_a_child)
    env = {k: v for k, v in worker_env.items() if k.startswith(("ILS_", "REDIS_"))}
    env.pop("REDIS_URL")  # the children must get the embedded server this process starts
    before = dict(os.environ)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    launched = dict(os.environ)
    args = ["serve", "--processes", "2", "--queues", "notification", "--log-level", "DEBUG"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert dict(os.environ) == launched  # nothing added for the children
    assert before.keys() <= launched.keys()
    (child,) = children
    assert child["log_level"] == "DEBUG"  # the command-line option reached the child
    assert child["queues"] == ("notification",) and child["run_workers"] is True
    assert child["redis_url"] and child["redis_url"].startswith("redis://")
    assert not any(n.startswith("ILS_SERVE") for n in child["env_names"])


BROKEN = {
    "ILS_MAIL_TRANSPORT": "smtp",  # and no ILS_SMTP_HOST
    "ILS_SMTP_PORT": "many",
    "ILS_AI_PROVIDER": "gpt",
    "DATABASE_URL": "mysql://nowhere/none",
}


def test_queue_commands_need_redis_alone(worker_env: dict[str, str]):
    env = {k: v for k, v in worker_env.items() if k.startswith(("ILS_", "REDIS_"))} | BROKEN
    runner = CliRunner()
    stats = runner.invoke(app, ["queue", "stats", "--json"], env=env)
    assert stats.exit_code == 0, stats.output
    assert set(json.loads(stats.output)) >= {"email", "notification"}
    info = runner.invoke(app, ["queue", "info", "--json"], env=env)
    assert info.exit_code == 0, info.output
    health = runner.invoke(app, ["queue", "health", "--json"], env=env)
    assert health.exit_code == 0 and json.loads(health.output)["redis"] is True


def test_a_process_that_needs_a_broken_section_refuses_to_start(worker_env: dict[str, str]):
    env = {k: v for k, v in worker_env.items() if k.startswith(("ILS_", "REDIS_"))}
    env |= {"ILS_MAIL_TRANSPORT": "smtp"}
    result = CliRunner().invoke(app, ["worker", "--queues", "email"], env=env)
    assert result.exit_code != 0
    assert "ILS_SMTP_HOST" in result.output, result.output


def test_secrets_given_to_the_sections_stay_out_of_the_settings_repr():
    secrets = {
        "ILS_SECRET_KEY": "s" * 40,
        "ILS_SMTP_USER": "u",
        "ILS_SMTP_PASSWORD": "pw-123456",
        "ILS_AI_API_KEY": "sk-abcdef",
        "DATABASE_URL": "postgresql://u:dbpass@h/ils",
    }
    shown = repr(load_settings(secrets))
    for value in ("s" * 40, "pw-123456", "sk-abcdef", "dbpass"):
        assert value not in shown
