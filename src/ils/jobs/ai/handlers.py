"""The ai queue's handlers by job name. Each module owns one job's steps; the numeric ones import
statsmodels only inside the model pool, so importing this module needs no ai extra."""

from __future__ import annotations

from ils.jobs.ai.alerts import anomaly_detection
from ils.jobs.ai.briefing import daily_briefing
from ils.jobs.ai.chat.handler import chat_response
from ils.jobs.ai.demand import demand_forecast
from ils.jobs.ai.insights import insight_generation
from ils.queue.registry import Handler

HANDLERS: dict[str, Handler] = {
    "demand-forecast": demand_forecast,
    "anomaly-detection": anomaly_detection,
    "insight-generation": insight_generation,
    "daily-briefing": daily_briefing,
    "chat-response": chat_response,
}
