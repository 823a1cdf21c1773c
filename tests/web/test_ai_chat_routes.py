"""The chat routes on both databases: any signed-in user starts conversations and asks in them
(the message stored and its job enqueued through the outbox, answered by the worker); only the
owner sees or uses a conversation (everyone else gets 404); bad input is named by its field."""

from __future__ import annotations

from fastapi import FastAPI

from ils.bootstrap import JobSystem
from ils.domain.enums import Role
from tests.support.running import running
from tests.web.conftest import Accounts, make_client
from tests.web.helpers import fields, outsider, relayed, signed_in


async def test_a_user_asks_and_reads_the_answer(api: FastAPI, accounts: Accounts):
    system: JobSystem = api.state.system
    async with signed_in(api, Role.dispenser) as client:
        created = await client.post("/api/ai/conversations", json={"title": "  Stock  "})
        assert created.status_code == 201, created.text
        conversation = created.json()
        assert conversation["title"] == "Stock" and conversation["messages"] == []
        url = f"/api/ai/conversations/{conversation['id']}"
        asked = await client.post(f"{url}/messages", json={"content": "What is low on stock?"})
        assert asked.status_code == 202, asked.text
        job = asked.json()["job"]
        assert (job["queue"], job["name"]) == ("ai", "chat-response")
        await relayed(system)
        queued = await system.admin.get_job("ai", job["job_id"])
        assert queued.data == {
            "conversationId": conversation["id"], "userId": accounts.by_role[Role.dispenser],
            "companyId": accounts.company_a, "message": "What is low on stock?",
            "messageId": asked.json()["message"]["id"],
        }  # fmt: skip
        async with running(system, "ai"):
            view = await system.admin.wait_for_job("ai", job["job_id"], timeout_s=60)
        assert view.state == "completed", view.failed_reason
        read = (await client.get(url)).json()
        assert [(m["role"], m["content"]) for m in read["messages"]] == [
            ("user", "What is low on stock?"),
            ("assistant", "Nothing is low on stock: every active product is above its reorder "
                          "level."),
        ]  # fmt: skip
        listed = (await client.get("/api/ai/conversations")).json()
        assert [c["id"] for c in listed] == [conversation["id"]]


async def test_only_the_owner_sees_or_uses_a_conversation(api: FastAPI, accounts: Accounts):
    async with signed_in(api, Role.dispenser) as owner:
        mine = (await owner.post("/api/ai/conversations", json={})).json()["id"]
        assert (await owner.get("/api/ai/conversations/999999")).status_code == 404
    url = f"/api/ai/conversations/{mine}"
    for role in (Role.company_admin, Role.platform_admin):  # colleagues, admins too: not theirs
        async with signed_in(api, role) as other:
            assert (await other.get(url)).status_code == 404
            asked = await other.post(f"{url}/messages", json={"content": "hi"})
            assert asked.status_code == 404
            assert (await other.get("/api/ai/conversations")).json() == []
    async with outsider(api) as stranger:
        assert (await stranger.get(url)).status_code == 404
        assert (await stranger.post(f"{url}/messages", json={"content": "hi"})).status_code == 404
    async with make_client(api) as anonymous:
        assert (await anonymous.get(url)).status_code == 401
        assert (await anonymous.post("/api/ai/conversations", json={})).status_code == 401
    async with signed_in(api, Role.dispenser) as owner:
        del owner.headers["X-CSRF-Token"]
        assert (await owner.post(f"{url}/messages", json={"content": "hi"})).status_code == 403
        assert (await owner.get(url)).json()["messages"] == []


async def test_every_role_may_chat(api: FastAPI, accounts: Accounts):
    for role in Role:
        async with signed_in(api, role) as client:
            created = await client.post("/api/ai/conversations", json={"title": role.value})
            assert created.status_code == 201, (role, created.text)


async def test_bad_input_is_named_by_its_field(api: FastAPI, accounts: Accounts):
    async with signed_in(api, Role.dispenser) as client:
        assert fields(await client.post("/api/ai/conversations", json={"title": "x" * 201})) == {
            "title"}  # fmt: skip
        assert fields(await client.post("/api/ai/conversations", json={"owner": 1})) == {"owner"}
        cid = (await client.post("/api/ai/conversations", json={})).json()["id"]
        url = f"/api/ai/conversations/{cid}/messages"
        assert fields(await client.post(url, json={"content": "   "})) == {"content"}
        assert fields(await client.post(url, json={"content": "x" * 10_001})) == {"content"}
        assert fields(await client.post(url, json={"text": "hi"})) == {"content", "text"}
        zero = await client.post("/api/ai/conversations/0/messages", json={"content": "hi"})
        assert fields(zero) == {"conversation_id"}
