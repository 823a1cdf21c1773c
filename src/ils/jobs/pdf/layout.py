"""What every document shares: styles, number formats, the page with its header repeated on every
page and "page N of M" in the footer, and the blocks documents are made of (parties, key facts,
line tables, the Rx table, totals).

Text goes into paragraphs that wrap; tables repeat their header row when they flow onto the next
page; nothing is clipped to a fixed box.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from ils.jobs.pdf.content import Brand, EyeRx, Line, Party, Rx, Totals
from ils.jobs.pdf.content import Frame as FrameSize
from ils.jobs.pdf.fonts import FONT, register_fonts

# Paragraphs look their font up when they are made: it is registered as this module loads.
register_fonts()

MARGIN = 16 * mm
PAGE_W, PAGE_H = A4
WIDTH = PAGE_W - 2 * MARGIN
INK = colors.HexColor("#1d2329")
MUTED = colors.HexColor("#5f6b76")
RULE = colors.HexColor("#d5dbe1")
ZEBRA = colors.HexColor("#f4f6f8")


def _style(name: str, size: float, **kw: Any) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=FONT, fontSize=size, leading=size * 1.3,
                          textColor=kw.pop("textColor", INK), **kw)  # fmt: skip


BODY = _style("body", 9)
SMALL = _style("small", 7.5, textColor=MUTED)
LABEL = _style("label", 7, textColor=MUTED)
CELL = _style("cell", 8.5)
CELL_R = _style("cell_r", 8.5, alignment=TA_RIGHT)
HEAD = _style("head", 8, textColor=colors.white)
HEAD_R = _style("head_r", 8, textColor=colors.white, alignment=TA_RIGHT)
SECTION = _style("section", 10.5, spaceBefore=4 * mm, spaceAfter=1.5 * mm)
NAME = _style("name", 13)
TITLE = _style("title", 17, alignment=TA_RIGHT)
NUMBER = _style("number", 11, alignment=TA_RIGHT)
BIG = _style("big", 12)


# ---- formats --------------------------------------------------------------------------------


def money(value: Decimal) -> str:
    """Exact to the cent as the database holds it, with thousands separators: ``1,543.32``."""
    return f"{value:,.2f}"


def diopter(value: Decimal | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def plain(value: Decimal | int | str | None) -> str:
    return "" if value is None else str(value)


def day(value: dt.date | None) -> str:
    return "" if value is None else f"{value:%d %b %Y}"


def moment(value: dt.datetime) -> str:
    return f"{value:%d %b %Y %H:%M} UTC"


def text(value: str, style: ParagraphStyle = BODY) -> Paragraph:
    """A paragraph of plain text (markup escaped, line breaks kept) that wraps to its width."""
    return Paragraph(escape(value).replace("\n", "<br/>"), style)


# ---- the page -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Header:
    """What the top of every page shows: the company, the document's title and number."""

    brand: Brand
    title: str
    number: str

    def blocks(self) -> tuple[list[Paragraph], list[Paragraph]]:
        left = [text(self.brand.party.name, NAME)]
        if self.brand.party.lines:
            left.append(text("  ·  ".join(self.brand.party.lines), SMALL))
        right = [text(self.title, TITLE), text(self.number, NUMBER)]
        return left, right


def _height(flowables: Sequence[Flowable], width: float) -> float:
    return sum(f.wrap(width, PAGE_H)[1] for f in flowables)


def _stack(canvas: Canvas, flowables: Sequence[Flowable], x: float, top: float, w: float) -> None:
    for f in flowables:
        _, h = f.wrap(w, PAGE_H)
        f.drawOn(canvas, x, top - h)
        top -= h


def _draw_page(header: Header, band: float, canvas: Canvas, doc: BaseDocTemplate) -> None:
    canvas.saveState()
    color = colors.HexColor(header.brand.color)
    canvas.setFillColor(color)
    canvas.rect(0, PAGE_H - 5 * mm, PAGE_W, 5 * mm, stroke=0, fill=1)
    left, right = header.blocks()
    top = PAGE_H - MARGIN
    _stack(canvas, left, MARGIN, top, WIDTH * 0.58)
    _stack(canvas, right, MARGIN + WIDTH * 0.6, top, WIDTH * 0.4)
    canvas.setStrokeColor(color)
    canvas.setLineWidth(0.8)
    line_y = top - band - 2 * mm
    canvas.line(MARGIN, line_y, PAGE_W - MARGIN, line_y)
    canvas.restoreState()


class _NumberedCanvas(Canvas):
    """Holds each page until the end so the footer can say "page N of M"."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()  # type: ignore[attr-defined]  # reportlab has no public reset

    def save(self) -> None:
        total = len(self._pages)
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self.setFont(FONT, 7.5)
            self.setFillColor(MUTED)
            self.drawRightString(PAGE_W - MARGIN, 9 * mm, f"Page {number} of {total}")
            super().showPage()
        super().save()


def build(header: Header, story: list[Flowable]) -> bytes:
    """The PDF of ``story`` under ``header``, on as many A4 pages as it needs."""
    left, right = header.blocks()
    band = max(_height(left, WIDTH * 0.58), _height(right, WIDTH * 0.4))
    out = io.BytesIO()
    doc = BaseDocTemplate(
        out,
        pagesize=A4,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + band + 6 * mm,
        bottomMargin=16 * mm,
        title=f"{header.title} {header.number}",
        author=header.brand.party.name,
        creator="ILS",
    )
    frame = Frame(doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body",
                  leftPadding=0, rightPadding=0, topPadding=0, bottomPadding=0)  # fmt: skip
    page = PageTemplate(id="page", frames=[frame], onPage=partial(_draw_page, header, band))
    doc.addPageTemplates([page])
    doc.build(story, canvasmaker=_NumberedCanvas)
    return out.getvalue()


# ---- blocks ---------------------------------------------------------------------------------


def section(title: str) -> Paragraph:
    return text(title, SECTION)


def party_block(label: str, party: Party) -> list[Flowable]:
    return [text(label.upper(), LABEL), text(party.name, BIG), *(text(x) for x in party.lines)]


def facts(pairs: Iterable[tuple[str, str]]) -> list[Flowable]:
    """Key facts as label over value, e.g. ``("Due", "24 Dec 2026")``; empty values left out."""
    out: list[Flowable] = []
    for label, value in pairs:
        if value:
            out += [text(label.upper(), LABEL), text(value), Spacer(1, 1.2 * mm)]
    return out


def two_columns(left: list[Flowable], right: list[Flowable]) -> Table:
    table = Table([[left, right]], colWidths=[WIDTH * 0.6, WIDTH * 0.4])
    table.setStyle(TableStyle([
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 0),
        ("RIGHTPADDING", (0, 0), (-1, -1), 4 * mm),
    ]))  # fmt: skip
    return table


def party_and_facts(label: str, party: Party, pairs: Iterable[tuple[str, str]]) -> Table:
    """A document's head: the party it is for (``label`` over its block) left, ``pairs`` right."""
    return two_columns(party_block(label, party), facts(pairs))


def grid(
    head: Sequence[str],
    rows: Sequence[Sequence[str]],
    widths: Sequence[float],
    color: str,
    right: frozenset[int] = frozenset(),
) -> Table:
    """A table of text cells that wrap; its header row repeats on every page it spans."""
    header = [text(h, HEAD_R if i in right else HEAD) for i, h in enumerate(head)]
    body = [[text(c, CELL_R if i in right else CELL) for i, c in enumerate(r)] for r in rows]
    table = Table(
        [header, *body], colWidths=[WIDTH * w for w in widths], repeatRows=1, hAlign="LEFT"
    )
    table.setStyle(TableStyle([
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(color)),
        ("ROWBACKGROUNDS", (0, 1), (-1, -1), [colors.white, ZEBRA]),
        ("LINEBELOW", (0, -1), (-1, -1), 0.6, RULE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))  # fmt: skip
    return table


def line_table(lines: Sequence[Line], color: str, with_kind: bool = True) -> Table:
    if with_kind:
        head = ["#", "Item", "Description", "Eye", "Qty", "Unit price", "Amount"]
        widths = [0.05, 0.1, 0.43, 0.08, 0.06, 0.14, 0.14]
        rows = [
            [str(n), x.kind, x.description, x.eye, str(x.quantity), money(x.unit_price),
             money(x.line_total)]
            for n, x in enumerate(lines, start=1)
        ]  # fmt: skip
        return grid(head, rows, widths, color, right=frozenset({4, 5, 6}))
    head = ["#", "Description", "Qty", "Unit price", "Amount"]
    widths = [0.05, 0.59, 0.08, 0.14, 0.14]
    rows = [
        [str(n), x.description, str(x.quantity), money(x.unit_price), money(x.line_total)]
        for n, x in enumerate(lines, start=1)
    ]
    return grid(head, rows, widths, color, right=frozenset({2, 3, 4}))


def totals_table(totals: Totals, extra: Sequence[tuple[str, str]] = ()) -> Table:
    rate = f" ({totals.tax_rate.normalize():f} %)" if totals.tax_rate is not None else ""
    rows = [
        ("Subtotal", money(totals.subtotal)),
        (f"Tax{rate}", money(totals.tax)),
        ("Total", money(totals.total)),
        *extra,
    ]
    data = [[text(label, CELL_R), text(value, CELL_R)] for label, value in rows]
    table = Table(data, colWidths=[WIDTH * 0.22, WIDTH * 0.16], hAlign="RIGHT")
    table.setStyle(TableStyle([
        ("LINEABOVE", (0, 2), (-1, 2), 0.8, INK),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
    ]))  # fmt: skip
    return table


def rx_table(rx: Rx, color: str, with_acuity: bool = False) -> Table:
    head = ["Eye", "Sphere", "Cylinder", "Axis", "Add", "Prism", "Base", "PD"]
    if with_acuity:
        head.append("VA")

    def row(label: str, eye: EyeRx) -> list[str]:
        powers = [diopter(eye.sphere), diopter(eye.cylinder), plain(eye.axis), diopter(eye.add)]
        cells = [label, *powers, plain(eye.prism), eye.prism_base or "", plain(eye.pd)]
        return [*cells, eye.acuity or ""] if with_acuity else cells

    rows = [row("R (OD)", rx.right), row("L (OS)", rx.left)]
    widths = [0.13, 0.12, 0.12, 0.1, 0.1, 0.1, 0.1, 0.1]
    if with_acuity:
        widths = [*widths[:-1], 0.09, 0.14]
    table = grid(head, rows, widths, color, right=frozenset(range(1, 6)))
    return table


def pd_line(rx: Rx) -> Paragraph | None:
    return text(f"Binocular PD: {rx.pd_binocular} mm") if rx.pd_binocular is not None else None


def frame_table(frame: FrameSize, color: str) -> Table:
    head = ["A (mm)", "B (mm)", "DBL (mm)", "ED (mm)"]
    rows = [[plain(frame.a), plain(frame.b), plain(frame.dbl), plain(frame.ed)]]
    return grid(head, rows, [0.15, 0.15, 0.15, 0.15], color, right=frozenset(range(4)))


def notes(title: str, body: str | None) -> list[Flowable]:
    """A titled block of free text; long text flows on to the next page."""
    if not body:
        return []
    return [section(title), *(text(part) for part in body.split("\n\n") if part.strip())]
