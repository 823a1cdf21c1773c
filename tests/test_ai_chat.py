"""The chat-response job through a real queue on both databases: the OpenAI-compatible provider
against a real local chat-completions server (a tool call, then the answer; a 429 retried; a 401
failed at once with its reply kept; the key never in job data or logs), the offline default,
the answer stored once per job and pushed to the user as an ai-insight notification, and a
conversation that is not the user's refused."""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest
from sqlalchemy import select

from ils.bootstrap import JobSystem
from ils.domain.db import Database
from ils.domain.models import AiMessage, MessageRole, Notification, NotificationType
from ils.errors import ConfigurationError, GiveUp
from ils.jobs import helpers
from ils.jobs.ai.chat.handler import ChatResponseTask, chat_response, load
from ils.jobs.ai.chat.http_provider import OpenAIProvider
from ils.jobs.ai.chat.offline import OfflineProvider
from ils.jobs.ai.chat.provider import ProviderUnavailable
from ils.jobs.ai.chat.settings import ChatSettings
from ils.jobs.ai.chat.tools import TOOLS, Scope, ToolSet
from ils.jobs.ai.results import follow_up
from ils.jobs.resources import Resources
from ils.queue.embedded import free_port
from ils.settings import load_chat_settings, load_settings
from tests.conftest import make_settings
from tests.support.ai_world import Shop, make_shop
from tests.support.chat_server import chat_server, final, tool_call
from tests.support.chat_world import job_context, start_conversation
from tests.support.running import running

KEY = "sk-test-5ecret-never-logged"
QUICK_RETRY = {"ILS_QUEUE_AI_BACKOFF_DELAY_MS": "0"}


def provider(url: str, timeout_s: float = 10) -> OpenAIProvider:
    return OpenAIProvider(ChatSettings(provider="openai", base_url=url, model="lens-7b",
                                       api_key=KEY, timeout_s=timeout_s))  # fmt: skip


async def two_shops(db: Database) -> tuple[Shop, Shop]:
    alpha = await make_shop(db, "alpha", products=3, days=5, stocks=[3, 500, 1])
    bravo = await make_shop(db, "bravo", products=2, days=5, stocks=[0, 0], seed=2)
    return alpha, bravo


async def ask(
    system: JobSystem, shop: Shop, conversation_id: int, message: str, user_id: int | None = None
) -> str:
    job = await helpers.queue_chat_response.using(producer=system.producer)(
        conversation_id=conversation_id, user_id=user_id or shop.staff_id,
        company_id=shop.company_id, message=message,
    )  # fmt: skip
    return job.job_id


async def assistant_messages(db: Database) -> list[AiMessage]:
    """The answers the jobs stored (each with its job id)."""
    async with db.session() as s:
        query = select(AiMessage).where(
            AiMessage.role == MessageRole.assistant, AiMessage.job_id.is_not(None)
        )
        return list(await s.scalars(query))


async def test_the_model_calls_a_tool_and_its_answer_is_stored_and_pushed(
    db: Database, redis_url: str, prefix: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    caplog.set_level(logging.DEBUG)
    alpha, bravo = await two_shops(db)
    question = "What is low on stock?"
    before = [("user", "hi"), ("assistant", "Hello!")]
    conversation = await start_conversation(
        db, alpha.company_id, alpha.staff_id, question, before=before
    )
    sneaky = json.dumps({"company_id": bravo.company_id})
    first = tool_call("low_stock", "{}")
    first["choices"][0]["message"]["tool_calls"].append(
        tool_call("count_orders", sneaky, "call_2")["choices"][0]["message"]["tool_calls"][0]
    )
    async with chat_server((200, first), (200, final("ALP-000 and ALP-002 are low."))) as server:
        chat = provider(server.url)
        system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db,
                           resources=Resources(chat=chat))  # fmt: skip
        try:
            async with running(system, "ai", "notification"):
                job_id = await ask(system, alpha, conversation, question)
                view = await system.admin.wait_for_job("ai", job_id, timeout_s=60)
                note_id = follow_up(job_context(job_id, None), "chat-answer").job_id
                assert note_id is not None
                note = await system.admin.wait_for_job("notification", note_id, timeout_s=30)
        finally:
            await system.close()
            await chat.close()
    assert view.state == "completed", view.failed_reason
    assert note.state == "completed", note.failed_reason
    assert view.return_value["toolsUsed"] == ["low_stock"]
    assert view.return_value["provider"] == "openai"
    assert len(server.requests) == 2
    asked, answered = server.requests
    assert asked["headers"]["authorization"] == f"Bearer {KEY}"
    assert asked["json"]["model"] == "lens-7b"
    offered = [t["function"]["name"] for t in asked["json"]["tools"]]
    assert offered == [t.name for t in TOOLS]
    assert [(m["role"], m["content"]) for m in asked["json"]["messages"][1:]] == [
        ("user", "hi"), ("assistant", "Hello!"), ("user", question)]  # fmt: skip
    results = {m["tool_call_id"]: json.loads(m["content"])
               for m in answered["json"]["messages"] if m["role"] == "tool"}  # fmt: skip
    assert {i["sku"] for i in results["call_1"]["items"]} == {alpha.skus[0], alpha.skus[2]}
    assert "company_id" in results["call_2"]["error"]
    assert "BRA-" not in json.dumps(answered["json"])
    stored = await assistant_messages(db)
    assert [(m.conversation_id, m.content, m.job_id) for m in stored] == [
        (conversation, "ALP-000 and ALP-002 are low.", job_id)]  # fmt: skip
    async with db.session() as s:
        notes = list(await s.scalars(select(Notification)))
    assert [(n.user_id, n.type, n.message) for n in notes] == [
        (alpha.staff_id, NotificationType.ai_insight, "ALP-000 and ALP-002 are low.")]  # fmt: skip
    assert notes[0].action_url == f"/ai/conversations/{conversation}"
    assert KEY not in json.dumps(view.to_dict(), default=str) and KEY not in caplog.text


async def test_a_rate_limited_reply_is_retried(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    alpha, _ = await two_shops(db)
    conversation = await start_conversation(db, alpha.company_id, alpha.staff_id, "Hello?")
    limited = (429, {"error": {"message": "rate limit reached", "type": "requests"}})
    async with chat_server(limited, (200, final("Hello from the model."))) as server:
        chat = provider(server.url)
        settings = make_settings(redis_url, prefix, tmp_path, env=QUICK_RETRY)
        system = JobSystem(settings, database=db, resources=Resources(chat=chat))
        try:
            async with running(system, "ai"):
                job_id = await ask(system, alpha, conversation, "Hello?")
                view = await system.admin.wait_for_job("ai", job_id, timeout_s=60)
        finally:
            await system.close()
            await chat.close()
    assert view.state == "completed", view.failed_reason
    assert view.attempts_made == 2 and len(server.requests) == 2
    assert [m.content for m in await assistant_messages(db)] == ["Hello from the model."]


async def test_a_refused_request_fails_at_once_with_the_reply_kept(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    alpha, _ = await two_shops(db)
    conversation = await start_conversation(db, alpha.company_id, alpha.staff_id, "Hello?")
    refused = (401, {"error": {"message": f"Incorrect API key provided: {KEY}"}})
    async with chat_server(refused) as server:
        chat = provider(server.url)
        settings = make_settings(redis_url, prefix, tmp_path, env=QUICK_RETRY)
        system = JobSystem(settings, database=db, resources=Resources(chat=chat))
        try:
            async with running(system, "ai"):
                job_id = await ask(system, alpha, conversation, "Hello?")
                view = await system.admin.wait_for_job("ai", job_id, timeout_s=60)
        finally:
            await system.close()
            await chat.close()
    assert view.state == "failed" and view.attempts_made == 1 and len(server.requests) == 1
    reason = view.failed_reason or ""
    assert "HTTP 401" in reason and "Incorrect API key provided: [redacted]" in reason
    assert KEY not in reason and await assistant_messages(db) == []


async def test_the_offline_default_answers_once_per_job_even_when_run_again(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    alpha, _ = await two_shops(db)
    conversation = await start_conversation(db, alpha.company_id, alpha.staff_id,
                                            "what is low on stock?")  # fmt: skip
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    assert isinstance(system.resources.chat, OfflineProvider)
    try:
        async with running(system, "ai", "notification"):
            job_id = await ask(system, alpha, conversation, "what is low on stock?")
            view = await system.admin.wait_for_job("ai", job_id, timeout_s=60)
            # The same job again, as a redelivery would run it: nothing new stored or sent.
            payload = ChatResponseTask(
                conversation_id=conversation, user_id=alpha.staff_id,
                company_id=alpha.company_id, message="what is low on stock?",
            )  # fmt: skip
            again = await chat_response(payload, job_context(job_id, system.resources, 2))
            note_id = follow_up(job_context(job_id, None), "chat-answer").job_id
            assert note_id is not None
            await system.admin.wait_for_job("notification", note_id, timeout_s=30)
            counts = await system.admin.stats(["notification"])
    finally:
        await system.close()
    assert view.state == "completed", view.failed_reason
    assert view.return_value["provider"] == "offline"
    assert again["messageId"] == view.return_value["messageId"] and again["provider"] == "stored"
    stored = await assistant_messages(db)
    assert len(stored) == 1 and stored[0].content.startswith("2 products are low on stock")
    assert counts["notification"]["completed"] == 1


async def test_a_conversation_that_is_not_the_users_is_refused(
    db: Database, redis_url: str, prefix: str, tmp_path: Path
):
    alpha, bravo = await two_shops(db)
    theirs = await start_conversation(db, alpha.company_id, alpha.admin_id, "low stock?")
    system = JobSystem(make_settings(redis_url, prefix, tmp_path), database=db)
    try:
        async with running(system, "ai"):
            colleague = await ask(system, alpha, theirs, "low stock?", user_id=alpha.staff_id)
            other = await helpers.queue_chat_response.using(producer=system.producer)(
                conversation_id=theirs,
                user_id=bravo.staff_id,
                company_id=bravo.company_id,
                message="low stock?",
            )
            gone = await ask(system, alpha, theirs + 1000, "low stock?")
            views = [await system.admin.wait_for_job("ai", j, timeout_s=60)
                     for j in (colleague, other.job_id, gone)]  # fmt: skip
    finally:
        await system.close()
    assert [(v.state, v.attempts_made) for v in views] == [("failed", 1)] * 3
    assert f"is not user {alpha.staff_id}'s" in (views[0].failed_reason or "")
    assert f"is not user {bravo.staff_id}'s" in (views[1].failed_reason or "")
    assert "no longer exists" in (views[2].failed_reason or "")
    assert await assistant_messages(db) == []


def test_the_settings_are_checked_at_start_up():
    assert load_chat_settings({}).provider == "offline"
    with pytest.raises(ConfigurationError, match="did you mean ILS_AI_BASE_URL"):
        load_chat_settings({"ILS_AI_BASE_ULR": "http://127.0.0.1:11434/v1"})
    with pytest.raises(ConfigurationError, match="needs ILS_AI_BASE_URL and ILS_AI_MODEL"):
        load_chat_settings({"ILS_AI_PROVIDER": "openai", "ILS_AI_BASE_URL": "http://x/v1"})
    with pytest.raises(ConfigurationError, match="ILS_AI_TIMEOUT_S"):
        load_chat_settings({"ILS_AI_TIMEOUT_S": "soon"})
    with pytest.raises(ConfigurationError, match="ILS_AI_PROVIDER"):
        load_chat_settings({"ILS_AI_PROVIDER": "gpt"})
    loaded = load_chat_settings({"ILS_AI_PROVIDER": "openai", "ILS_AI_BASE_URL": "http://h:1/v1/",
                                 "ILS_AI_MODEL": "m", "ILS_AI_API_KEY": KEY})  # fmt: skip
    assert loaded.base_url == "http://h:1/v1" and KEY not in repr(loaded)


@pytest.mark.parametrize("status", [429, 500, 503])
async def test_busy_or_broken_servers_are_temporary(db: Database, status: int):
    alpha, _ = await two_shops(db)
    tools = ToolSet(Scope(db, alpha.company_id))
    async with chat_server((status, {"error": {"message": "busy"}})) as server:
        chat = provider(server.url)
        try:
            with pytest.raises(ProviderUnavailable, match=f"HTTP {status}"):
                await chat.answer([], "hi", tools)
        finally:
            await chat.close()


async def test_unreachable_or_silent_servers_are_temporary_and_a_bad_reply_permanent(db: Database):
    alpha, _ = await two_shops(db)
    tools = ToolSet(Scope(db, alpha.company_id))
    closed = provider(f"http://127.0.0.1:{free_port()}/v1")
    try:
        with pytest.raises(ProviderUnavailable, match="unreachable"):
            await closed.answer([], "hi", tools)
    finally:
        await closed.close()
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts, never answers
        slow = provider(f"http://127.0.0.1:{silent.getsockname()[1]}/v1", timeout_s=0.2)
        try:
            with pytest.raises(ProviderUnavailable, match="timed out"):
                await slow.answer([], "hi", tools)
        finally:
            await slow.close()
    async with chat_server((200, {"unexpected": True})) as server:
        chat = provider(server.url)
        try:
            with pytest.raises(GiveUp, match="no chat completion"):
                await chat.answer([], "hi", tools)
        finally:
            await chat.close()


async def test_a_process_with_a_misspelt_or_wrong_ai_setting_does_not_start(
    redis_url: str, prefix: str, tmp_path: Path
):
    with pytest.raises(ConfigurationError, match="did you mean ILS_AI_MODEL"):
        load_settings({"ILS_AI_MODLE": "llama3"})
    wrong = make_settings(redis_url, prefix, tmp_path, env={"ILS_AI_PROVIDER": "gpt"})
    system = JobSystem(wrong)  # the chat provider is built by a process that runs the ai queue
    try:
        with pytest.raises(ConfigurationError, match="ILS_AI_PROVIDER"):
            system.runtime(("ai",))
    finally:
        await system.close()


async def test_the_history_ends_before_the_question_the_job_was_asked(db: Database):
    alpha, _ = await two_shops(db)
    # The same question sent twice before the first is answered: each job's history ends before
    # its own message, found by id (the text alone would pick the second for both).
    conversation = await start_conversation(
        db, alpha.company_id, alpha.staff_id, "Again?", before=[("user", "hi"), ("user", "Again?")]
    )
    async with db.session() as s:
        ids = list(await s.scalars(select(AiMessage.id).where(
            AiMessage.conversation_id == conversation).order_by(AiMessage.id)))  # fmt: skip
    for message_id, expected in ((ids[1], ["hi"]), (ids[2], ["hi", "Again?"])):
        payload = ChatResponseTask(conversation_id=conversation, user_id=alpha.staff_id,
                                   company_id=alpha.company_id, message="Again?",
                                   message_id=message_id)  # fmt: skip
        _, history, _ = await load(db, payload, f"job-{message_id}")
        assert [turn.content for turn in history] == expected
