"""Chat test helpers: a conversation with the user's message stored (as the route stores it),
stored forecast and anomaly results shaped as the AI jobs write them, and a job context for
running the chat handler directly, as a retry would."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from ils.domain.db import Database
from ils.domain.models import AiConversation, AiMessage, AiResult, AiResultKind, MessageRole
from ils.jobs.resources import Resources
from ils.queue.context import JobContext


async def start_conversation(
    db: Database, company_id: int, user_id: int, message: str, title: str = "Stock questions",
    before: list[tuple[str, str]] | None = None,
) -> int:  # fmt: skip
    """A conversation with the ``before`` turns (role, text) and then the user's ``message``."""
    async with db.session() as s:
        conversation = AiConversation(company_id=company_id, user_id=user_id, title=title)
        s.add(conversation)
        await s.flush()
        for role, text in [*(before or []), ("user", message)]:
            s.add(AiMessage(conversation_id=conversation.id, role=MessageRole(role), content=text))
        await s.flush()
        return conversation.id


async def store_forecast(
    db: Database, company_id: int, product_id: int, sku: str, days: int = 14, daily: float = 3.0,
    reorder: dict[str, Any] | None = None,
) -> None:  # fmt: skip
    first = dt.date.today()
    entry = {
        "product_id": product_id, "sku": sku, "name": f"Product {sku}", "model": "holt-winters",
        "dates": [(first + dt.timedelta(days=i)).isoformat() for i in range(days)],
        "mean": [daily] * days, "total": daily * days, "reorder": reorder,
    }  # fmt: skip
    async with db.session() as s:
        s.add(AiResult(company_id=company_id, kind=AiResultKind.demand_forecast, for_date=first,
                       data={"forecasts": [entry]}))  # fmt: skip


async def store_anomalies(db: Database, company_id: int, texts: list[str]) -> None:
    anomalies = [{"metric": "revenue", "bucket": "2026-01-05", "severity": "high", "text": t}
                 for t in texts]  # fmt: skip
    async with db.session() as s:
        s.add(AiResult(company_id=company_id, kind=AiResultKind.anomaly,
                       data={"anomalies": anomalies}))  # fmt: skip


def job_context(
    job_id: str, resources: Resources | None, attempt: int = 1
) -> JobContext[Resources | None]:
    logger = logging.LoggerAdapter(logging.getLogger("test"))
    return JobContext(job_id, "ai", "chat-response", attempt, 2, logger, resources=resources)
