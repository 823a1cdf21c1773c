"""Payload models of every ILS job type, as the seed's helpers passed them (one class per type).

Field names are snake_case in Python and camelCase on the wire (``orderId``), so jobs added by
the old Node producers validate unchanged.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import EmailStr, Field, StringConstraints

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


class MarketplaceNotification(Payload):
    user_id: Id
    connection_id: Id
    event: Literal["requested", "accepted", "rejected"]


# ---- ai -------------------------------------------------------------------------------------


class DailyBriefingTask(Payload):
    company_id: Id
    date: dt.date
    user_ids: list[Id] = Field(default_factory=list, max_length=500)


class DemandForecastTask(Payload):
    company_id: Id
    horizon_days: int = Field(14, ge=1, le=365)
    product_ids: list[Id] | None = Field(None, max_length=1_000)


class AnomalyDetectionTask(Payload):
    company_id: Id
    metric: Literal["revenue", "orders", "inventory", "all"] = "all"
    lookback_days: int = Field(90, ge=7, le=730)


class InsightGenerationTask(Payload):
    company_id: Id
    topic: Literal["sales", "inventory", "operations", "all"] = "all"


class ChatResponseTask(Payload):
    conversation_id: Id
    user_id: Id
    company_id: Id
    message: PersonalText
