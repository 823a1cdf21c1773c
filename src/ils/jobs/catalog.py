"""The catalogue of ILS job types: every type of the seed with its queue, wire name and defaults.

Priorities follow BullMQ (1 is the highest): what a person waits on (an order confirmation, a chat
answer) goes before bulk work (daily briefings, forecasts).
"""

from __future__ import annotations

from ils.jobs import payloads as p
from ils.queue.registry import JobType

JOB_TYPES: tuple[JobType, ...] = (
    # email
    JobType("email", "order-confirmation", p.OrderConfirmationEmail,
            "order confirmation to the customer", priority=1, attempts=5),
    JobType("email", "order-shipment", p.OrderShipmentEmail,
            "shipment notice with tracking number", priority=2, attempts=5),
    JobType("email", "purchase-order", p.PurchaseOrderEmail,
            "purchase order to a supplier", priority=2, attempts=5),
    JobType("email", "marketplace-connection", p.MarketplaceConnectionEmail,
            "connection request to the target company's admins", priority=3, attempts=3),
    JobType("email", "daily-briefing", p.DailyBriefingEmail,
            "the AI daily briefing by email", priority=5, attempts=3),
    JobType("email", "generic", p.GenericEmail, "any templated email", priority=4, attempts=3),
    # pdf
    JobType("pdf", "order-sheet", p.OrderSheetPdf, "order sheet", priority=2),
    JobType("pdf", "invoice", p.InvoicePdf, "invoice", priority=2),
    JobType("pdf", "receipt", p.ReceiptPdf, "payment receipt", priority=2),
    JobType("pdf", "lab-work-ticket", p.LabWorkTicketPdf, "lab work ticket", priority=1),
    JobType("pdf", "examination-form", p.ExaminationFormPdf, "examination form", priority=3),
    # notification
    JobType("notification", "system", p.SystemNotification, "system notice", priority=3,
            attempts=5),
    JobType("notification", "order", p.OrderNotification, "order status change", priority=2,
            attempts=5),
    JobType("notification", "ai-insight", p.AiInsightNotification, "AI insight", priority=4,
            attempts=3),
    JobType("notification", "marketplace", p.MarketplaceNotification,
            "marketplace connection event", priority=3, attempts=3),
    JobType("notification", "fan-out", p.FanOutNotification,
            "one notice to a company's admins, or to its users of one role", priority=3,
            attempts=5),
    # ai
    JobType("ai", "daily-briefing", p.DailyBriefingTask, "daily briefing", priority=5),
    JobType("ai", "demand-forecast", p.DemandForecastTask, "demand forecast", priority=5),
    JobType("ai", "anomaly-detection", p.AnomalyDetectionTask, "anomaly detection", priority=4),
    JobType("ai", "insight-generation", p.InsightGenerationTask, "insight generation",
            priority=4),
    JobType("ai", "chat-response", p.ChatResponseTask, "answer to a chat message", priority=1),
)  # fmt: skip
