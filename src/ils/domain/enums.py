"""Every enum the domain models store (roles, statuses, kinds), without SQLAlchemy: job payloads
and declarations name them (a fan-out's ``Role``, an AI job's ``OrderStatus``) and load this module
alone, not the ORM tables; :mod:`ils.domain.models` re-exports each beside its table. With them,
the one naming constant such code reads: the prefix of a schedule's BullMQ job scheduler ids.
"""

from __future__ import annotations

import enum

# ---- accounts ------------------------------------------------------------------------------


class Role(enum.StrEnum):
    platform_admin = "platform_admin"
    admin = "admin"
    company_admin = "company_admin"
    optometrist = "optometrist"
    dispenser = "dispenser"
    lab_technician = "lab_technician"
    staff = "staff"


ADMIN_ROLES = frozenset({Role.platform_admin, Role.admin, Role.company_admin})
STAFF_ROLES = frozenset({Role.optometrist, Role.dispenser, Role.lab_technician, Role.staff})


class CompanyKind(enum.StrEnum):
    practice = "practice"
    lab = "lab"
    supplier = "supplier"
    platform = "platform"


# ---- orders, purchasing, billing, catalogue, prescriptions ---------------------------------


class OrderStatus(enum.StrEnum):
    pending = "pending"
    in_production = "in_production"
    quality_check = "quality_check"
    shipped = "shipped"
    delivered = "delivered"
    cancelled = "cancelled"


class LineKind(enum.StrEnum):
    lens = "lens"
    frame = "frame"
    coating = "coating"
    service = "service"


class Eye(enum.StrEnum):
    right = "right"
    left = "left"
    both = "both"


class PurchaseOrderStatus(enum.StrEnum):
    draft = "draft"
    sent = "sent"
    received = "received"
    cancelled = "cancelled"


class InvoiceStatus(enum.StrEnum):
    draft = "draft"
    issued = "issued"
    paid = "paid"
    void = "void"


class PaymentMethod(enum.StrEnum):
    card = "card"
    cash = "cash"
    bank_transfer = "bank_transfer"
    insurance = "insurance"


class ProductKind(enum.StrEnum):
    lens = "lens"
    frame = "frame"
    coating = "coating"
    accessory = "accessory"


class PrismBase(enum.StrEnum):
    """The direction of a prism's base."""

    up = "up"
    down = "down"
    in_ = "in"
    out = "out"


# ---- documents, email, notifications, marketplace, AI ---------------------------------------


class DocumentType(enum.StrEnum):
    """The kinds of document, named like the PDF jobs that make them."""

    order_sheet = "order-sheet"
    invoice = "invoice"
    receipt = "receipt"
    lab_work_ticket = "lab-work-ticket"
    examination_form = "examination-form"


class DocumentEntity(enum.StrEnum):
    """The kind of row a document shows."""

    order = "order"
    invoice = "invoice"
    payment = "payment"
    examination = "examination"


ENTITY_OF: dict[DocumentType, DocumentEntity] = {
    DocumentType.order_sheet: DocumentEntity.order,
    DocumentType.lab_work_ticket: DocumentEntity.order,
    DocumentType.invoice: DocumentEntity.invoice,
    DocumentType.receipt: DocumentEntity.payment,
    DocumentType.examination_form: DocumentEntity.examination,
}


class EmailStatus(enum.StrEnum):
    sent = "sent"
    failed = "failed"


class NotificationType(enum.StrEnum):
    system = "system"
    order = "order"
    ai_insight = "ai-insight"
    marketplace = "marketplace"


class Priority(enum.StrEnum):
    urgent = "urgent"
    high = "high"
    medium = "medium"
    low = "low"


class ConnectionStatus(enum.StrEnum):
    requested = "requested"
    accepted = "accepted"
    rejected = "rejected"


class MessageRole(enum.StrEnum):
    user = "user"
    assistant = "assistant"


class AiResultKind(enum.StrEnum):
    daily_briefing = "daily-briefing"
    demand_forecast = "demand-forecast"
    anomaly = "anomaly"
    insight = "insight"


# ---- schedules -----------------------------------------------------------------------------

#: A schedule's job scheduler is ``schedule-<id>`` (its runs: ``repeat:schedule-<id>:<ms>``).
SCHEDULER_PREFIX = "schedule-"
