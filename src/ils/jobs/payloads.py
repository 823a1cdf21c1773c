"""Payload models of every ILS job type, as the seed's helpers passed them (one class per type).

Field names are snake_case in Python and camelCase on the wire (``orderId``), so jobs added by
the old Node producers validate unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints, ValidationInfo, field_validator

from ils.domain.models.accounts import Role
from ils.queue.registry import Payload, Personal

Id = Annotated[int, Field(gt=0)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200)]
# Free text or addresses that may name a patient or customer: masked in admin views for roles
# that watch the queues without reading the data (ils.queue.registry.Personal).
PersonalText = Annotated[Text, Personal()]
PersonalShortText = Annotated[ShortText, Personal()]
NotificationPriority = Literal["urgent", "high", "medium", "low"]
GenericLayout = Literal["standard", "notice", "alert"]

# ---- email ----------------------------------------------------------------------------------


class OrderConfirmationEmail(Payload):
    order_id: Id
    user_id: Id


class OrderShipmentEmail(Payload):
    order_id: Id
    user_id: Id
    tracking_number: ShortText
    carrier: ShortText | None = None


class PurchaseOrderEmail(Payload):
    purchase_order_id: Id
    supplier_id: Id


class MarketplaceConnectionEmail(Payload):
    connection_id: Id
    target_company_id: Id


class DailyBriefingEmail(Payload):
    company_id: Id
    user_ids: list[Id] = Field(min_length=1, max_length=500)
    date: dt.date


class GenericEmail(Payload):
    to: Annotated[list[EmailStr], Personal()] = Field(min_length=1, max_length=100)
    subject: PersonalShortText
    text: PersonalText
    html: PersonalText | None = None
    template: GenericLayout = Field(
        "standard", description="standard, notice (a highlighted panel) or alert (action needed)"
    )
    company_id: Id | None = Field(None, description="brand the email with this company")


# ---- pdf ------------------------------------------------------------------------------------


class OrderSheetPdf(Payload):
    order_id: Id


class InvoicePdf(Payload):
    invoice_id: Id


class ReceiptPdf(Payload):
    payment_id: Id


class LabWorkTicketPdf(Payload):
    order_id: Id


class ExaminationFormPdf(Payload):
    examination_id: Id


# ---- notification ---------------------------------------------------------------------------

# The seed's mapping of a notification's priority to its job's BullMQ priority (1 is highest).
QUEUE_PRIORITY: dict[str, int] = {"urgent": 1, "high": 2, "medium": 3, "low": 4}
NotificationKind = Literal["system", "order", "ai-insight", "marketplace"]


class SystemNotification(Payload):
    user_id: Id
    title: PersonalShortText
    message: PersonalText
    priority: NotificationPriority = "medium"
    action_url: ShortText | None = None


class OrderNotification(Payload):
    user_id: Id
    order_id: Id
    status: ShortText
    message: PersonalText | None = None


class AiInsightNotification(Payload):
    user_id: Id
    title: PersonalShortText
    message: PersonalText
    priority: NotificationPriority = "medium"
    insight_id: Id | None = None
    action_url: ShortText | None = Field(None, description="where the notification leads")


class MarketplaceNotification(Payload):
    user_id: Id
    connection_id: Id
    event: Literal["requested", "accepted", "rejected"]


class FanOutNotification(Payload):
    """One notification for every active user of a company who is an admin (``audience``
    ``admins``) or has ``role`` (``audience`` ``role``); the users are resolved when it runs."""

    company_id: Id
    audience: Literal["admins", "role"]
    role: Role | None = Field(None, validate_default=True)
    kind: NotificationKind = "system"
    title: PersonalShortText
    message: PersonalText
    priority: NotificationPriority = "medium"
    action_url: ShortText | None = None

    @field_validator("role")
    @classmethod
    def _role_for_role_audience(cls, role: Role | None, info: ValidationInfo) -> Role | None:
        audience = info.data.get("audience")
        if audience == "role" and role is None:
            raise ValueError("needed when audience is 'role'")
        if audience == "admins" and role is not None:
            raise ValueError("only with audience 'role'")
        return role


# ---- ai -------------------------------------------------------------------------------------


class DailyBriefingTask(Payload):
    """The briefing of ``date`` (default: today in the company's time zone, as the 08:00 job
    scheduler sends it) about the day before; ``user_ids`` default to the company's admins."""

    company_id: Id
    date: dt.date | None = None
    user_ids: list[Id] = Field(default_factory=list, max_length=500)


class DemandForecastTask(Payload):
    """Reorder suggestions cover each supplier's lead time plus ``review_days`` (until the next
    purchase order; default 7) at the company's ``service_level`` (default 0.95)."""

    company_id: Id
    horizon_days: int = Field(14, ge=1, le=365)
    product_ids: list[Id] | None = Field(None, max_length=1_000)
    service_level: float | None = Field(None, ge=0.5, le=0.99)
    review_days: int | None = Field(None, ge=0, le=90)


AnomalyMetric = Literal["revenue", "orders", "inventory", "patients", "all"]
AnomalyRange = Literal["daily", "weekly", "monthly"]
InsightType = Literal["revenue", "inventory", "patient-care", "operations", "all"]
InsightPeriod = Literal["week", "month", "quarter"]


class AnomalyDetectionTask(Payload):
    """Scores a year of the metric, bucketed by ``range``; reports what falls in the last
    ``lookback_days``."""

    company_id: Id
    metric: AnomalyMetric = "all"
    range: AnomalyRange = "daily"
    lookback_days: int = Field(90, ge=7, le=730)


class InsightGenerationTask(Payload):
    """Facts about the last ``period`` (ending yesterday) against the one before it."""

    company_id: Id
    type: InsightType = "all"
    period: InsightPeriod = "month"


class ChatResponseTask(Payload):
    conversation_id: Id
    user_id: Id
    company_id: Id
    message: PersonalText
    message_id: Id | None = Field(None, description="the stored question; history ends before it")
