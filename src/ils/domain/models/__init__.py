"""Every ILS domain model. Importing this package completes ``Base.metadata`` (migrations and
``create_all`` need every table), so code that needs the whole schema imports it."""

from __future__ import annotations

from ils.domain.enums import (
    ADMIN_ROLES,
    ENTITY_OF,
    STAFF_ROLES,
    AiResultKind,
    CompanyKind,
    ConnectionStatus,
    DocumentEntity,
    DocumentType,
    EmailStatus,
    Eye,
    InvoiceStatus,
    LineKind,
    MessageRole,
    NotificationType,
    OrderStatus,
    PaymentMethod,
    Priority,
    PrismBase,
    ProductKind,
    PurchaseOrderStatus,
    Role,
)
from ils.domain.models.accounts import ApiToken, AuthSession, Company, User
from ils.domain.models.ai import AiConversation, AiMessage, AiResult
from ils.domain.models.audit import AuditEntry
from ils.domain.models.billing import Invoice, InvoiceLine, Payment, invoice_number
from ils.domain.models.catalog import Product, Supplier
from ils.domain.models.clinical import Examination, Patient
from ils.domain.models.documents import Document
from ils.domain.models.email_log import EmailLog
from ils.domain.models.events import Event, EventCursor
from ils.domain.models.marketplace import MarketplaceConnection
from ils.domain.models.notifications import Notification
from ils.domain.models.oma import OmaFile
from ils.domain.models.orders import (
    TRANSITIONS,
    InvalidStatusTransition,
    Order,
    OrderLine,
    order_number,
)
from ils.domain.models.purchasing import PurchaseOrder, PurchaseOrderLine, purchase_order_number
from ils.domain.models.schedules import MissedRun, Schedule
from ils.domain.models.webhooks import WebhookDelivery, WebhookEndpoint

__all__ = [
    "ADMIN_ROLES",
    "ENTITY_OF",
    "STAFF_ROLES",
    "TRANSITIONS",
    "AiConversation",
    "AiMessage",
    "AiResult",
    "AiResultKind",
    "ApiToken",
    "AuditEntry",
    "AuthSession",
    "Company",
    "CompanyKind",
    "ConnectionStatus",
    "Document",
    "DocumentEntity",
    "DocumentType",
    "EmailLog",
    "EmailStatus",
    "Event",
    "EventCursor",
    "Examination",
    "Eye",
    "InvalidStatusTransition",
    "Invoice",
    "InvoiceLine",
    "InvoiceStatus",
    "LineKind",
    "MarketplaceConnection",
    "MessageRole",
    "MissedRun",
    "Notification",
    "NotificationType",
    "OmaFile",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Patient",
    "Payment",
    "PaymentMethod",
    "Priority",
    "PrismBase",
    "Product",
    "ProductKind",
    "PurchaseOrder",
    "PurchaseOrderLine",
    "PurchaseOrderStatus",
    "Role",
    "Schedule",
    "Supplier",
    "User",
    "WebhookDelivery",
    "WebhookEndpoint",
    "invoice_number",
    "order_number",
    "purchase_order_number",
]
