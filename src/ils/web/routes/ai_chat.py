"""Chat routes: a user's own AI conversations. Creating one, asking in it (the message is stored
and its chat-response job enqueued in the request's transaction, through the outbox), and reading
it back with the answers. Another user's conversation answers 404, like one that does not exist.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from pydantic import BaseModel, ConfigDict, StringConstraints
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from ils.domain.models import AiConversation, AiMessage, MessageRole, User
from ils.domain.services import Id
from ils.jobs import helpers
from ils.web.auth import CurrentUser, DbSession, permit
from ils.web.quota_deps import AiQuota

router = APIRouter(prefix="/api/ai/conversations", tags=["ai"], dependencies=[permit("ai.chat")])

ConversationId = Id
Title = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Content = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=10_000)]


class ConversationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: Title = "New conversation"


class MessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    content: Content


class MessageOut(BaseModel):
    id: int
    role: MessageRole
    content: str
    created_at: dt.datetime


class ConversationOut(BaseModel):
    id: int
    title: str
    created_at: dt.datetime
    messages: list[MessageOut]


class ConversationSummary(BaseModel):
    id: int
    title: str
    created_at: dt.datetime


class JobRef(BaseModel):
    queue: str
    name: str
    job_id: str


class Asked(BaseModel):
    message: MessageOut
    job: JobRef


async def _own(session: AsyncSession, conversation_id: int, user: User) -> AiConversation:
    found = await session.get(AiConversation, conversation_id)
    if found is None or found.user_id != user.id or found.company_id != user.company_id:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"conversation {conversation_id} not found")
    return found


def _message(row: AiMessage) -> MessageOut:
    return MessageOut(id=row.id, role=row.role, content=row.content, created_at=row.created_at)


@router.post("", status_code=status.HTTP_201_CREATED, summary="Start a conversation")
async def create_conversation(
    body: ConversationIn, user: CurrentUser, session: DbSession
) -> ConversationOut:
    row = AiConversation(company_id=user.company_id, user_id=user.id, title=body.title)
    session.add(row)
    await session.flush()
    return ConversationOut(id=row.id, title=row.title, created_at=row.created_at, messages=[])


@router.get("", summary="My conversations, newest first")
async def list_conversations(user: CurrentUser, session: DbSession) -> list[ConversationSummary]:
    rows = await session.scalars(
        select(AiConversation)
        .where(AiConversation.user_id == user.id, AiConversation.company_id == user.company_id)
        .order_by(AiConversation.id.desc())
        .limit(100)
    )
    return [ConversationSummary(id=r.id, title=r.title, created_at=r.created_at) for r in rows]


@router.get("/{conversation_id}", summary="One of my conversations with its messages")
async def get_conversation(
    conversation_id: ConversationId, user: CurrentUser, session: DbSession
) -> ConversationOut:
    row = await _own(session, conversation_id, user)
    messages = await session.scalars(
        select(AiMessage).where(AiMessage.conversation_id == row.id).order_by(AiMessage.id)
    )
    return ConversationOut(id=row.id, title=row.title, created_at=row.created_at,
                           messages=[_message(m) for m in messages])  # fmt: skip


@router.post(
    "/{conversation_id}/messages",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Ask in a conversation; the answer arrives as a message and a notification",
)
async def ask(
    conversation_id: ConversationId,
    body: MessageIn,
    user: CurrentUser,
    _quota: AiQuota,
    session: DbSession,
) -> Asked:
    row = await _own(session, conversation_id, user)
    message = AiMessage(conversation_id=row.id, role=MessageRole.user, content=body.content)
    session.add(message)
    await session.flush()
    job = await helpers.queue_chat_response.using(session=session)(
        conversation_id=row.id, user_id=user.id, company_id=user.company_id,
        message=body.content, message_id=message.id,
    )  # fmt: skip
    return Asked(message=_message(message), job=JobRef(queue=job.queue, name=job.name,
                                                       job_id=job.job_id))  # fmt: skip
