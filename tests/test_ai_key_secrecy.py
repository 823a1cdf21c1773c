"""The AI API key never appears, not even in part: not in a failed chat job's reason, stack
trace or logs, not in any log line of the worker, not in the settings' repr or errors, not in
``ils queue info``. Any run of 6 or more of its characters counts as a leak."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ils.bootstrap import JobSystem
from ils.cli import app
from ils.domain.db import Database
from ils.errors import ConfigurationError
from ils.jobs import helpers
from ils.jobs.ai.chat.http_provider import OpenAIProvider, redact_secret
from ils.jobs.ai.chat.settings import ChatSettings
from ils.jobs.resources import Resources
from ils.settings import load_chat_settings
from tests.conftest import make_settings
from tests.support.ai_world import make_shop
from tests.support.chat_server import chat_server
from tests.support.chat_world import start_conversation
from tests.support.running import running

KEY = "sk-ILSq7Zr9XkP2mW4vB8nTfJ3h"
SLICE = 6


def leaks(text: str) -> list[str]:
    """Every 6-character run of the key found in ``text``."""
    return [KEY[i : i + SLICE] for i in range(len(KEY) - SLICE + 1) if KEY[i : i + SLICE] in text]


# What providers have been seen to send back: the key whole, its head, its tail, a middle part,
# and the Authorization header quoted back.
ECHOES = (
    f"Incorrect API key provided: {KEY[:10]}...{KEY[-8:]}. Also {KEY[7:15]}; "
    f"got header 'Authorization: Bearer {KEY}'"
)


def test_redact_secret_removes_every_run_of_six_or_more():
    assert leaks(redact_secret(ECHOES, KEY)) == []
    assert redact_secret("nothing secret here", KEY) == "nothing secret here"
    assert redact_secret(f"key={KEY[:5]}", KEY) == f"key={KEY[:5]}"  # 5 characters say nothing


@pytest.mark.parametrize("first", [500, 429])
async def test_failed_chat_jobs_keep_no_part_of_the_key(
    db: Database,
    redis_url: str,
    prefix: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    first: int,
):
    shop = await make_shop(db, "keyed", products=2, days=3, stocks=[1, 400])
    conversation = await start_conversation(db, shop.company_id, shop.staff_id, "Hello?")
    temporary = (first, {"error": {"message": ECHOES}})  # retried: its reason is logged
    refused = (401, {"error": {"message": ECHOES}})  # then given up on
    chat = OpenAIProvider(ChatSettings(provider="openai", base_url="http://x/v1", model="m",
                                       api_key=KEY, timeout_s=10))  # fmt: skip
    with caplog.at_level(logging.DEBUG):
        async with chat_server(temporary, refused) as server:
            chat.url = f"{server.url}/chat/completions"
            env = {"ILS_QUEUE_AI_BACKOFF_DELAY_MS": "0"}
            settings = make_settings(redis_url, prefix, tmp_path, env=env)
            system = JobSystem(settings, database=db, resources=Resources(chat=chat))
            try:
                async with running(system, "ai"):
                    job = await helpers.queue_chat_response.using(producer=system.producer)(
                        conversation_id=conversation, user_id=shop.staff_id,
                        company_id=shop.company_id, message="Hello?",
                    )  # fmt: skip
                    view = await system.admin.wait_for_job("ai", job.job_id, timeout_s=60)
                    detail = await system.admin.browse.detail("ai", job.job_id)
            finally:
                await system.close()
                await chat.close()
    assert server.requests[0]["headers"]["authorization"] == f"Bearer {KEY}"  # it was sent
    assert view.state == "failed" and view.attempts_made == 2
    assert "HTTP 401" in (view.failed_reason or "")
    exposed = "\n".join([repr(view), repr(detail.to_dict())])  # reason, stack traces, logs
    assert leaks(exposed) == []
    retried = [r for r in caplog.records if "will retry" in r.getMessage()]
    assert retried and f"HTTP {first}" in retried[0].getMessage()
    assert leaks(caplog.text) == []


def test_settings_never_show_the_key(tmp_path: Path):
    env = {"ILS_AI_PROVIDER": "openai", "ILS_AI_BASE_URL": "http://h:1/v1",
           "ILS_AI_MODEL": "m", "ILS_AI_API_KEY": KEY}  # fmt: skip
    loaded = load_chat_settings(env)
    shown = "\n".join([repr(loaded), str(loaded), loaded.model_dump_json(), str(loaded.api_key)])
    assert leaks(shown) == []
    with pytest.raises(ConfigurationError) as refused:
        load_chat_settings(env | {"ILS_AI_MODEL": "", "ILS_AI_TIMEOUT_S": "-1"})
    assert leaks(str(refused.value)) == []


def test_queue_info_and_health_never_show_the_key(worker_env: dict[str, str]):
    env = {k: v for k, v in worker_env.items() if k.startswith(("ILS_", "REDIS_"))}
    env |= {"ILS_AI_PROVIDER": "openai", "ILS_AI_BASE_URL": "http://h:1/v1",
            "ILS_AI_MODEL": "m", "ILS_AI_API_KEY": KEY}  # fmt: skip
    for command in (["queue", "info", "--json"], ["queue", "info"], ["queue", "health"]):
        result = CliRunner().invoke(app, command, env=env)
        assert result.exit_code in (0, 1), result.output
        assert leaks(result.output) == []
