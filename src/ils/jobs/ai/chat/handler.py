"""The chat-response job: load the conversation (the user's own, in their company), answer the
message with the process's provider over the company-bound tools, store the answer once (keyed
by the job id), and push it to the user as an ai-insight notification (keyed on this job).

A retry after the answer was stored does not ask the provider again: it only makes sure the
notification went out.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import Field

from ils.domain.enums import MessageRole
from ils.errors import GiveUp
from ils.jobs.ai.chat.provider import Turn
from ils.jobs.notification.handlers import ai_insight
from ils.jobs.payloads import Id, PersonalText
from ils.jobs.resources import Ctx
from ils.queue.declare import job
from ils.queue.registry import Payload

if TYPE_CHECKING:
    from ils.domain.db import Database
    from ils.domain.models import AiConversation, AiMessage

HISTORY_TURNS = 20
MAX_TEXT = 10_000


class ChatResponseTask(Payload):
    conversation_id: Id
    user_id: Id
    company_id: Id
    message: PersonalText = Field(examples=["Which frames sold best last month?"])
    message_id: Id | None = Field(None, description="the stored question; history ends before it")


async def load(
    db: Database, payload: ChatResponseTask, job_id: str
) -> tuple[AiConversation, list[Turn], AiMessage | None]:
    """The conversation, the turns before the message, and this job's answer if it has one."""
    from sqlalchemy import select

    from ils.domain.models import AiConversation, AiMessage, User

    async with db.session() as s:
        conversation = await s.get(AiConversation, payload.conversation_id)
        if conversation is None:
            raise GiveUp(f"conversation {payload.conversation_id} no longer exists")
        if (conversation.user_id, conversation.company_id) != (payload.user_id, payload.company_id):
            raise GiveUp(f"conversation {conversation.id} is not user {payload.user_id}'s "
                         f"in company {payload.company_id}")  # fmt: skip
        user = await s.get(User, payload.user_id)
        if user is None or not user.is_active or user.company_id != payload.company_id:
            raise GiveUp(f"user {payload.user_id} is not an active user of the company")
        rows = list(await s.scalars(
            select(AiMessage).where(AiMessage.conversation_id == conversation.id)
            .order_by(AiMessage.id)
        ))  # fmt: skip
    done = next((m for m in rows if m.job_id == job_id), None)
    # The message was stored before this job was enqueued: the turns before it are its history
    # (found by its id; producers that send none are matched on the text, the latest such turn).
    asked = [i for i, m in enumerate(rows) if m.role is MessageRole.user and (
        m.id == payload.message_id if payload.message_id is not None
        else m.content == payload.message)]  # fmt: skip
    before = rows[: asked[-1]] if asked else rows
    history = [Turn(m.role.value, m.content) for m in before[-HISTORY_TURNS:]]
    return conversation, history, done


async def store_answer(db: Database, conversation_id: int, job_id: str, text: str) -> int:
    """The answer's message row, inserted once per job (a second run finds the first's)."""
    from sqlalchemy import select

    from ils.domain.db import conflict_insert
    from ils.domain.models import AiMessage
    from ils.domain.models.types import utcnow

    insert = conflict_insert(db.engine.dialect.name)
    statement = insert(AiMessage).values(
        conversation_id=conversation_id, role=MessageRole.assistant, content=text,
        job_id=job_id, created_at=utcnow(),
    ).on_conflict_do_nothing(index_elements=[AiMessage.job_id])  # fmt: skip
    async with db.session() as s:
        await s.execute(statement)
        message_id: int = (
            await s.scalars(select(AiMessage.id).where(AiMessage.job_id == job_id))
        ).one()
    return message_id


@job(ChatResponseTask, queue="ai", name="chat-response", description="answer to a chat message",
     priority=1, resources=("db", "chat", "producer"))  # fmt: skip
async def chat_response(payload: ChatResponseTask, ctx: Ctx) -> dict[str, Any]:
    """load -> answer (unless this job already did) -> store -> notify the user."""
    from ils.jobs.ai.chat.tools import Scope, ToolSet
    from ils.jobs.ai.results import follow_up

    db = ctx.resources.db
    conversation, history, done = await load(db, payload, ctx.job_id)
    if done is not None:
        message_id, text, used, by = done.id, done.content, [], "stored"
    else:
        ctx.check_cancelled("before answering")
        toolset = ToolSet(Scope(db, payload.company_id))
        answer = await ctx.resources.chat.answer(history, payload.message, toolset)
        text, used, by = answer.text[:MAX_TEXT], answer.tools_used, answer.provider
        message_id = await store_answer(db, conversation.id, ctx.job_id, text)
    notify = ai_insight.helper.using(company_id=payload.company_id, producer=ctx.resources.producer,
                                     options=follow_up(ctx, "chat-answer"))  # fmt: skip
    await notify(user_id=payload.user_id, title=f"Answer: {conversation.title}"[:200], message=text,
                 priority="medium", action_url=f"/ai/conversations/{conversation.id}")  # fmt: skip
    return {"conversationId": conversation.id, "messageId": message_id, "provider": by,
            "toolsUsed": used}  # fmt: skip
