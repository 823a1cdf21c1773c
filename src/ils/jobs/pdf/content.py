"""The plain-data documents the renderers draw: frozen dataclasses of text, Decimal and dates.

The worker loads them from the database on its event loop, then hands them to the render pool;
they hold no ORM objects, so they pickle into another process as they are. Every document is a
:class:`Doc` (the brand and number its page header shows); an order's two are an
:class:`OrderDoc`. Documents are built by keyword.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass(frozen=True)
class Party:
    """A company or customer block: a name and the lines under it (address, email, phone)."""

    name: str
    lines: tuple[str, ...] = ()


@dataclass(frozen=True)
class Brand:
    """The issuing company: its block and the colour its documents are drawn in."""

    party: Party
    color: str = "#1f5f8b"


@dataclass(frozen=True)
class EyeRx:
    """One eye's prescription; ``None`` where the Rx says nothing (plano, no prism)."""

    sphere: Decimal | None = None
    cylinder: Decimal | None = None
    axis: int | None = None
    add: Decimal | None = None
    prism: Decimal | None = None
    prism_base: str | None = None
    acuity: str | None = None
    pd: Decimal | None = None


@dataclass(frozen=True)
class Rx:
    right: EyeRx = field(default_factory=EyeRx)
    left: EyeRx = field(default_factory=EyeRx)
    pd_binocular: Decimal | None = None


@dataclass(frozen=True)
class Line:
    """One priced line; ``kind`` and ``eye`` are empty where the document has none."""

    description: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal
    kind: str = ""
    eye: str = ""


@dataclass(frozen=True)
class Totals:
    subtotal: Decimal
    tax: Decimal
    total: Decimal
    tax_rate: Decimal | None = None


@dataclass(frozen=True)
class Frame:
    """Frame measurements in millimetres (boxing system)."""

    a: Decimal | None = None
    b: Decimal | None = None
    dbl: Decimal | None = None
    ed: Decimal | None = None


@dataclass(frozen=True)
class LensSpec:
    """A lens line as the lab needs it: what to make, from what, with which coatings."""

    description: str
    eye: str = ""
    material: str | None = None
    design: str | None = None
    lens_index: Decimal | None = None


@dataclass(frozen=True, kw_only=True)
class Doc:
    """What every document has: the issuing company's brand and the document's number, the two
    things the header of each of its pages shows."""

    brand: Brand
    number: str


@dataclass(frozen=True, kw_only=True)
class OrderDoc(Doc):
    """What both of an order's documents (its sheet and its lab work ticket) show of it."""

    created: dt.date
    due: dt.date | None
    rx: Rx
    frame: Frame
    instructions: str | None = None


@dataclass(frozen=True, kw_only=True)
class OrderSheet(OrderDoc):
    customer: Party
    status: str
    lines: tuple[Line, ...]
    totals: Totals


@dataclass(frozen=True, kw_only=True)
class InvoiceDoc(Doc):
    bill_to: Party
    issued: dt.date | None
    due: dt.date | None
    order_number: str | None
    lines: tuple[Line, ...]
    totals: Totals
    amount_paid: Decimal
    balance_due: Decimal
    payment_terms: str | None
    status: str


@dataclass(frozen=True, kw_only=True)
class ReceiptDoc(Doc):
    invoice_number: str
    received_from: Party
    paid_at: dt.datetime
    method: str
    reference: str | None
    amount: Decimal
    invoice_total: Decimal
    paid_to_date: Decimal
    balance_remaining: Decimal


@dataclass(frozen=True)
class LensShape:
    """One traced lens in the frame: its outline and box (left, bottom, right, top) in mm, y up,
    origin at the middle of the bridge, and the measures written under it."""

    side: str
    outline: tuple[tuple[float, float], ...]
    box: tuple[float, float, float, float]
    label: str


@dataclass(frozen=True)
class Shape:
    """The frame's traced shape (from the order's OMA file)."""

    lenses: tuple[LensShape, ...]
    bounds: tuple[float, float, float, float]
    dbl: float


@dataclass(frozen=True, kw_only=True)
class LabTicket(OrderDoc):
    tray: str | None
    customer: str
    lenses: tuple[LensSpec, ...]
    coatings: tuple[str, ...]
    frame_lines: tuple[str, ...]
    shape: Shape | None = None


@dataclass(frozen=True, kw_only=True)
class ExaminationDoc(Doc):
    patient: Party
    examined: dt.datetime
    examiner: str | None
    rx: Rx
    notes: str | None
    recall_due: dt.date | None


Document = OrderSheet | InvoiceDoc | ReceiptDoc | LabTicket | ExaminationDoc
