"""Every ILS domain model. Importing this package completes ``Base.metadata`` (migrations and
``create_all`` need every table), so code that needs the whole schema imports it."""

from __future__ import annotations

from ils.domain.models.accounts import (
    ADMIN_ROLES,
    STAFF_ROLES,
    ApiToken,
    AuthSession,
    Company,
    CompanyKind,
    Role,
    User,
)
from ils.domain.models.ai import AiConversation, AiMessage, AiResult, AiResultKind, MessageRole
from ils.domain.models.audit import AuditEntry
from ils.domain.models.billing import (
    Invoice,
    InvoiceLine,
    InvoiceStatus,
    Payment,
    PaymentMethod,
    invoice_number,
)
from ils.domain.models.catalog import Product, ProductKind, Supplier
from ils.domain.models.clinical import Examination, Patient
from ils.domain.models.documents import ENTITY_OF, Document, DocumentEntity, DocumentType
from ils.domain.models.email_log import EmailLog, EmailStatus
from ils.domain.models.marketplace import ConnectionStatus, MarketplaceConnection
from ils.domain.models.notifications import Notification, NotificationType, Priority
from ils.domain.models.orders import (
    TRANSITIONS,
    Eye,
    InvalidStatusTransition,
    LineKind,
    Order,
    OrderLine,
    OrderStatus,
    order_number,
)
from ils.domain.models.purchasing import (
    PurchaseOrder,
    PurchaseOrderLine,
    PurchaseOrderStatus,
    purchase_order_number,
)
from ils.domain.models.rx import PrismBase
from ils.domain.models.schedules import MissedRun, Schedule

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
    "invoice_number",
    "order_number",
    "purchase_order_number",
]
