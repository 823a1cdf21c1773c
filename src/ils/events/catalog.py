"""The event catalog: one pydantic schema per event type and version, the data every event of that
type carries.

A type's schema changes only by adding a version (``order.created`` v2 beside v1): recorded events
keep the version they were written with, and subscribers and webhooks read it from the envelope.
The catalog loads pydantic only, so a worker and the docs generator import it without SQLAlchemy.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

# Money as exact text in JSON ("129.99"), as the API writes it.
Money = Annotated[
    Decimal,
    Field(max_digits=14, decimal_places=2, description='exact money as text, e.g. "129.99"'),
    PlainSerializer(lambda v: str(v), return_type=str, when_used="json"),
]
Id = Annotated[int, Field(ge=1)]
Short = Annotated[str, Field(max_length=200)]


class EventData(BaseModel):
    """Base of every event's data: unknown fields are refused, so a typo is an error."""

    model_config = ConfigDict(extra="forbid")


# ---- orders ---------------------------------------------------------------------------------
class OrderCreated(EventData):
    order_id: Id
    number: Short
    status: Short
    customer_name: Short
    total: Money
    line_count: int = Field(ge=0)


class FieldChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    old: Any = Field(None, description="the value before, as JSON")
    new: Any = Field(None, description="the value after, as JSON")


class OrderUpdated(EventData):
    order_id: Id
    number: Short
    changes: dict[str, FieldChange] = Field(description="field name: its old and new value")


class OrderStatusChanged(EventData):
    order_id: Id
    number: Short
    from_status: Short
    to_status: Short


class OrderShipped(EventData):
    order_id: Id
    number: Short
    tracking_number: Short
    carrier: Short | None = None


class OrderDelivered(EventData):
    order_id: Id
    number: Short


class OrderCancelled(EventData):
    order_id: Id
    number: Short
    from_status: Short


# ---- billing --------------------------------------------------------------------------------
class InvoiceIssued(EventData):
    invoice_id: Id
    number: Short
    total: Money
    order_id: Id | None = None


class InvoicePaid(EventData):
    invoice_id: Id
    number: Short
    amount_paid: Money


class PaymentSucceeded(EventData):
    payment_id: Id
    invoice_id: Id
    amount: Money
    method: Short


class PaymentFailed(EventData):
    invoice_id: Id
    amount: Money
    reason: Short


# ---- catalog --------------------------------------------------------------------------------
class ProductPriceChanged(EventData):
    product_id: Id
    sku: Short
    old_price: Money
    new_price: Money


class ProductStock(EventData):
    product_id: Id
    sku: Short
    stock: int
    reorder_threshold: int


# ---- users and companies --------------------------------------------------------------------
class UserCreated(EventData):
    user_id: Id
    email: Short
    role: Short


class UserRoleChanged(EventData):
    user_id: Id
    from_role: Short
    to_role: Short


class UserLoggedIn(EventData):
    user_id: Id
    method: Literal["password", "token"] = "password"


class UserLoginFailed(EventData):
    email: Short
    reason: Short


class CompanyCreated(EventData):
    company_id: Id
    name: Short
    kind: Short


class MarketplaceConnection(EventData):
    connection_id: Id
    requester_company_id: Id
    target_company_id: Id


# ---- work done by jobs ----------------------------------------------------------------------
class AnomalyDetected(EventData):
    result_id: Id | None = None
    metric: Short
    severity: Literal["low", "medium", "high", "critical"]
    period: Short = Field(description="the day or period the anomaly is in")
    value: float
    expected: float
    score: float


class DocumentGenerated(EventData):
    document_id: Id
    document_type: Short
    entity_type: Short
    entity_id: Id
    job_id: Short | None = None


class OmaFileProcessed(EventData):
    file_name: Short
    records: int = Field(ge=0)
    order_id: Id | None = None


class JobDeadLettered(EventData):
    queue: Short
    name: Short
    job_id: Short
    attempts: int = Field(ge=0)
    reason: Annotated[str, Field(max_length=1000)]


#: (type, version) -> the schema of its data, with a one-line description.
CATALOG: dict[tuple[str, int], tuple[type[EventData], str]] = {
    ("order.created", 1): (OrderCreated, "an order was placed"),
    ("order.updated", 1): (OrderUpdated, "an order's details changed (old and new values)"),
    ("order.status_changed", 1): (OrderStatusChanged, "an order moved to another status"),
    ("order.shipped", 1): (OrderShipped, "an order shipped, with its tracking"),
    ("order.delivered", 1): (OrderDelivered, "an order was delivered"),
    ("order.cancelled", 1): (OrderCancelled, "an order was cancelled"),
    ("invoice.issued", 1): (InvoiceIssued, "an invoice was issued"),
    ("invoice.paid", 1): (InvoicePaid, "an invoice was paid in full"),
    ("payment.succeeded", 1): (PaymentSucceeded, "a payment was recorded on an invoice"),
    ("payment.failed", 1): (PaymentFailed, "a payment was refused"),
    ("product.price_changed", 1): (ProductPriceChanged, "a product's price changed"),
    ("product.low_stock", 1): (ProductStock, "a product's stock fell to its reorder threshold"),
    ("product.out_of_stock", 1): (ProductStock, "a product's stock fell to zero"),
    ("user.created", 1): (UserCreated, "a user was created"),
    ("user.role_changed", 1): (UserRoleChanged, "a user's role changed"),
    ("user.logged_in", 1): (UserLoggedIn, "a user logged in"),
    ("user.login_failed", 1): (UserLoginFailed, "a login was refused"),
    ("company.created", 1): (CompanyCreated, "a company was created"),
    ("marketplace.connection.requested", 1): (
        MarketplaceConnection,
        "a company asked another to connect",
    ),
    ("marketplace.connection.accepted", 1): (MarketplaceConnection, "a connection was accepted"),
    ("marketplace.connection.rejected", 1): (MarketplaceConnection, "a connection was rejected"),
    ("ai.anomaly_detected", 1): (AnomalyDetected, "the anomaly scan found an anomaly"),
    ("document.generated", 1): (DocumentGenerated, "a PDF document was generated"),
    ("oma.file_processed", 1): (OmaFileProcessed, "an OMA lab file was processed"),
    ("job.dead_lettered", 1): (JobDeadLettered, "a job failed for good"),
}

EVENT_TYPES: tuple[str, ...] = tuple(sorted({name for name, _ in CATALOG}))


def latest_version(event_type: str) -> int | None:
    """The newest version of ``event_type``, or None when the catalog has no such type."""
    versions = [v for name, v in CATALOG if name == event_type]
    return max(versions) if versions else None


def schema_of(event_type: str, version: int) -> type[EventData] | None:
    entry = CATALOG.get((event_type, version))
    return entry[0] if entry else None


def json_schemas() -> list[dict[str, Any]]:
    """The catalog as JSON Schema: one entry per type and version, oldest first."""
    return [
        {
            "type": name,
            "version": version,
            "description": description,
            "schema": model.model_json_schema(),
        }
        for (name, version), (model, description) in sorted(CATALOG.items())
    ]
