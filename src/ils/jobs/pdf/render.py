"""The five documents drawn with reportlab: order sheet, invoice, receipt, lab work ticket,
examination form; :func:`render_document` picks the one for a document model.

Pure functions of plain data to PDF bytes, with no database or event loop: they run in the
render pool's processes (and in the benchmark's bare runs).
"""

from __future__ import annotations

from reportlab.graphics.barcode.code128 import Code128
from reportlab.graphics.shapes import Drawing, Polygon, Rect, String
from reportlab.lib import colors
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Spacer, Table, TableStyle

from ils.jobs.pdf.content import (
    Document,
    ExaminationDoc,
    InvoiceDoc,
    LabTicket,
    OrderSheet,
    ReceiptDoc,
    Rx,
    Shape,
)
from ils.jobs.pdf.layout import (
    BIG,
    LABEL,
    WIDTH,
    Header,
    build,
    day,
    facts,
    frame_table,
    grid,
    line_table,
    moment,
    money,
    notes,
    party_and_facts,
    pd_line,
    plain,
    rx_table,
    section,
    text,
    totals_table,
    two_columns,
)


def _rx(rx: Rx, color: str, with_acuity: bool = False) -> list[Flowable]:
    out: list[Flowable] = [rx_table(rx, color, with_acuity)]
    pd = pd_line(rx)
    if pd is not None:
        out += [Spacer(1, 1.5 * mm), pd]
    return out


def order_sheet(doc: OrderSheet) -> bytes:
    color = doc.brand.color
    dates = [("Order date", day(doc.created)), ("Due", day(doc.due))]
    story: list[Flowable] = [
        party_and_facts(
            "Customer", doc.customer, [*dates, ("Status", doc.status.replace("_", " "))]
        ),
        section("Lines"),
        line_table(doc.lines, color),
        Spacer(1, 3 * mm),
        totals_table(doc.totals),
    ]
    if doc.rx != Rx():
        story.append(KeepTogether([section("Prescription"), *_rx(doc.rx, color)]))
    if any((doc.frame.a, doc.frame.b, doc.frame.dbl, doc.frame.ed)):
        story.append(KeepTogether([section("Frame"), frame_table(doc.frame, color)]))
    story += notes("Special instructions", doc.instructions)
    return build(Header(doc.brand, "Order sheet", doc.number), story)


def invoice(doc: InvoiceDoc) -> bytes:
    extra = [("Paid", money(doc.amount_paid)), ("Balance due", money(doc.balance_due))]
    head = [("Invoice date", day(doc.issued)), ("Due", day(doc.due))]
    story: list[Flowable] = [
        party_and_facts(
            "Bill to",
            doc.bill_to,
            [*head, ("Order", doc.order_number or ""), ("Status", doc.status)],
        ),
        section("Lines"),
        line_table(doc.lines, doc.brand.color, with_kind=False),
        Spacer(1, 3 * mm),
        totals_table(doc.totals, extra),
    ]
    story += notes("Payment terms", doc.payment_terms)
    return build(Header(doc.brand, "Invoice", doc.number), story)


def receipt(doc: ReceiptDoc) -> bytes:
    rows = [
        ["Invoice", doc.invoice_number],
        ["Paid on", moment(doc.paid_at)],
        ["Method", doc.method.replace("_", " ")],
        ["Reference", doc.reference or ""],
        ["Amount received", money(doc.amount)],
        ["Invoice total", money(doc.invoice_total)],
        ["Paid to date", money(doc.paid_to_date)],
        ["Balance remaining", money(doc.balance_remaining)],
    ]
    story: list[Flowable] = [
        party_and_facts("Received from", doc.received_from, []),
        Spacer(1, 4 * mm),
        grid(["Payment", ""], rows, [0.3, 0.35], doc.brand.color, right=frozenset({1})),
        Spacer(1, 6 * mm),
        text("Thank you for your payment.", BIG),
    ]
    return build(Header(doc.brand, "Receipt", doc.number), story)


def _barcode(value: str) -> Table:
    """The order number as Code128, wide enough for a hand scanner, with the text beneath."""
    code = Code128(value, barWidth=0.42 * mm, barHeight=16 * mm, quiet=False)
    table = Table([[code], [text(value, BIG)]], colWidths=[WIDTH * 0.45], hAlign="LEFT")
    table.setStyle(TableStyle([("LEFTPADDING", (0, 0), (-1, -1), 0)]))
    return table


def shape_drawing(shape: Shape, color: str, height: float = 45 * mm) -> Drawing:
    """The traced lenses with their boxes, scaled to fit the page's width and ``height``."""
    left, bottom, right, top = shape.bounds
    margin, text_room = 4.0, 6.0  # mm around the shapes, under them for the measures
    span_x, span_y = right - left + 2 * margin, top - bottom + 2 * margin + text_room
    scale = min(WIDTH / (span_x * mm), height / (span_y * mm)) * mm
    drawing = Drawing(span_x * scale, span_y * scale)

    def at(x: float, y: float) -> tuple[float, float]:
        return (x - left + margin) * scale, (y - bottom + margin + text_room) * scale

    stroke = colors.HexColor(color)
    for lens in shape.lenses:
        x0, y0 = at(lens.box[0], lens.box[1])
        x1, y1 = at(lens.box[2], lens.box[3])
        box = Rect(x0, y0, x1 - x0, y1 - y0)
        box.fillColor, box.strokeColor = None, colors.grey
        box.strokeWidth, box.strokeDashArray = 0.4, [2, 2]
        drawing.add(box)
        points = [c for x, y in lens.outline for c in at(x, y)]
        drawing.add(Polygon(points, fillColor=colors.HexColor("#e8f0fb"), strokeColor=stroke,
                            strokeWidth=0.8))  # fmt: skip
        drawing.add(String((x0 + x1) / 2, y0 - 4 * mm, lens.label, fontSize=7,
                           textAnchor="middle"))  # fmt: skip
    return drawing


def lab_work_ticket(doc: LabTicket) -> bytes:
    color = doc.brand.color
    lens_rows = [
        [x.eye, x.description, x.material or "", x.design or "", plain(x.lens_index)]
        for x in doc.lenses
    ]
    story: list[Flowable] = [
        two_columns(
            [
                _barcode(doc.number),
                Spacer(1, 2 * mm),
                text("CUSTOMER", LABEL),
                text(doc.customer, BIG),
            ],
            facts(
                [("Tray", doc.tray or "—"), ("Received", day(doc.created)), ("Due", day(doc.due))]
            ),
        ),
        KeepTogether([section("Prescription"), *_rx(doc.rx, color)]),
        KeepTogether([section("Frame measurements"), frame_table(doc.frame, color)]),
        *(
            [KeepTogether([section("Frame shape"), shape_drawing(doc.shape, color)])]
            if doc.shape is not None
            else []
        ),
        section("Lenses"),
        grid(
            ["Eye", "Lens", "Material", "Design", "Index"],
            lens_rows or [["", "—", "", "", ""]],
            [0.08, 0.42, 0.18, 0.2, 0.12],
            color,
            right=frozenset({4}),
        ),
        section("Coatings"),
        text(", ".join(doc.coatings) or "None"),
    ]
    if doc.frame_lines:
        story += [section("Frame"), text(", ".join(doc.frame_lines))]
    story += notes("Special instructions", doc.instructions)
    return build(Header(doc.brand, "Lab work ticket", doc.number), story)


def examination_form(doc: ExaminationDoc) -> bytes:
    examined = [("Examined", moment(doc.examined)), ("Examiner", doc.examiner or "")]
    story: list[Flowable] = [
        party_and_facts("Patient", doc.patient, [*examined, ("Recall due", day(doc.recall_due))]),
        KeepTogether([section("Refraction"), *_rx(doc.rx, doc.brand.color, with_acuity=True)]),
    ]
    story += notes("Notes", doc.notes)
    return build(Header(doc.brand, "Examination form", doc.number), story)


def render_document(doc: Document) -> bytes:
    """The PDF of any document model."""
    match doc:
        case OrderSheet():
            return order_sheet(doc)
        case InvoiceDoc():
            return invoice(doc)
        case ReceiptDoc():
            return receipt(doc)
        case LabTicket():
            return lab_work_ticket(doc)
        case ExaminationDoc():
            return examination_form(doc)
