"""Drawing a file's lens shapes: the frame layout in millimetres (for the PDF layer to draw as
vectors) and an SVG of both lenses with their boxes, optical centres and measures.

Shapes are drawn as the traces give them, seen from the front: the wearer's right lens on the
viewer's left, the two boxes ``DBL`` apart, centred on one horizontal line.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import repeat
from operator import add, neg, sub
from typing import Protocol
from xml.sax.saxutils import escape

from ils.oma.geometry import (
    Box,
    Labelled,
    Measures,
    Point,
    box_centre,
    coordinates,
    measure_coordinates,
    side_number,
)
from ils.oma.model import Trace, TraceKind

#: The bridge drawn when the file has no ``DBL`` record (drawing only; never reported).
DEFAULT_DBL_MM = 18.0
MARGIN_MM = 6.0
TEXT_MM = 2.6


class Drawable(Labelled, Protocol):
    """What a drawing reads of a file: its ``JOB``, records by label (``DBL``, ``IPD``...) and
    its traces. An :class:`ils.oma.OmaFile` is one."""

    @property
    def job(self) -> str | None: ...

    def trace(self, side: str, kind: TraceKind | None = None) -> Trace | None: ...


@dataclass(frozen=True, slots=True)
class LensLayout:
    """One lens placed in the frame: points in mm, y up, origin at the middle of the bridge."""

    side: str
    outline: tuple[Point, ...]
    box: Box
    measures: Measures
    #: The distance optical centre (IPD across, OCHT up from the box bottom), when given.
    optical_centre: Point | None
    #: The near point (NPD across, SEGHT up from the box bottom), when given.
    near_centre: Point | None

    @property
    def centre(self) -> Point:
        return box_centre(self.box)


@dataclass(frozen=True, slots=True)
class FrameLayout:
    lenses: tuple[LensLayout, ...]
    dbl: float
    dbl_recorded: bool

    @property
    def bounds(self) -> Box:
        """(left, bottom, right, top) around every lens; a zero box when there is none."""
        if not self.lenses:
            return 0.0, 0.0, 0.0, 0.0
        return (
            min(lens.box[0] for lens in self.lenses),
            min(lens.box[1] for lens in self.lenses),
            max(lens.box[2] for lens in self.lenses),
            max(lens.box[3] for lens in self.lenses),
        )

    def lens(self, side: str) -> LensLayout | None:
        return next((lens for lens in self.lenses if lens.side == side), None)


def frame_layout(oma: Drawable) -> FrameLayout:
    """Where each traced lens sits in the frame, for drawing."""
    dbl_value = side_number(oma, "DBL", 0)
    dbl = dbl_value if dbl_value is not None and dbl_value > 0 else DEFAULT_DBL_MM
    lenses = []
    for side, index, direction in (("R", 0, -1.0), ("L", 1, 1.0)):
        trace = oma.trace(side, "frame") or oma.trace(side)
        if trace is None:
            continue
        xs, ys = coordinates(trace)
        own = measure_coordinates(xs, ys)
        own_cx, own_cy = own.centre
        centre_x = direction * (dbl / 2 + own.hbox / 2)
        placed_xs = map(add, map(sub, xs, repeat(own_cx)), repeat(centre_x))
        placed = tuple(zip(placed_xs, map(sub, ys, repeat(own_cy)), strict=True))
        box = (centre_x - own.hbox / 2, -own.vbox / 2, centre_x + own.hbox / 2, own.vbox / 2)
        lenses.append(
            LensLayout(
                side=side,
                outline=placed,
                box=box,
                measures=own,
                optical_centre=_centre_point(oma, "IPD", "OCHT", index, direction, box),
                near_centre=_centre_point(oma, "NPD", "SEGHT", index, direction, box),
            )
        )
    return FrameLayout(tuple(lenses), dbl, dbl_value is not None)


def _centre_point(
    oma: Drawable,
    across: str,
    up: str,
    index: int,
    direction: float,
    box: Box,
) -> Point | None:
    distance = side_number(oma, across, index)
    height = side_number(oma, up, index)
    if distance is None and height is None:
        return None
    cx, cy = box_centre(box)
    x = direction * distance if distance is not None else cx
    y = box[1] + height if height is not None else cy
    return x, y


def render_svg(oma: Drawable) -> str:
    """An SVG (1 unit = 1 mm) of both lens shapes with their boxes, boxing centres, optical
    centres and measures. A file without a trace draws an empty frame with a note."""
    layout = frame_layout(oma)
    left, bottom, right, top = layout.bounds
    text_rows = 3
    x0, x1 = left - MARGIN_MM, right + MARGIN_MM
    y0, y1 = -top - MARGIN_MM, -bottom + MARGIN_MM + text_rows * TEXT_MM * 1.5
    width, height = max(x1 - x0, 40.0), y1 - y0
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0:.2f} {y0:.2f} {width:.2f} '
        f'{height:.2f}" width="{width:.2f}mm" height="{height:.2f}mm" '
        f'font-family="sans-serif" font-size="{TEXT_MM}">',
        f"<title>{escape('OMA job ' + (oma.job or '(no JOB)'))}</title>",
    ]
    if not layout.lenses:
        parts.append(f'<text x="{x0 + 2:.2f}" y="{y0 + 6:.2f}">no trace in this file</text>')
    for lens in layout.lenses:
        parts += _lens_svg(lens, -bottom)
    if len(layout.lenses) == 2:
        note = f"DBL {layout.dbl:.2f}" + ("" if layout.dbl_recorded else " (not given)")
        parts.append(f'<text x="0" y="{-top - 1.5:.2f}" text-anchor="middle">{note}</text>')
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def _svg_points(outline: tuple[Point, ...]) -> str:
    """``x,-y`` of each point, two decimals, space-separated: one ``%`` format for the whole
    outline (thousands of points), which is what drawing a shape costs."""
    flat: list[float] = [0.0] * (2 * len(outline))
    flat[0::2] = [x for x, _ in outline]
    flat[1::2] = map(neg, [y for _, y in outline])
    return ("%.2f,%.2f " * len(outline) % tuple(flat))[:-1]


def _lens_svg(lens: LensLayout, baseline: float) -> list[str]:
    left, _bottom, _right, top = lens.box
    cx, cy = lens.centre
    m = lens.measures
    points = _svg_points(lens.outline)
    out = [
        f'<g class="lens lens-{lens.side}">',
        f'<rect class="box" x="{left:.2f}" y="{-top:.2f}" width="{m.hbox:.2f}" '
        f'height="{m.vbox:.2f}" fill="none" stroke="#888" stroke-width="0.2" '
        'stroke-dasharray="1,1"/>',
        f'<polygon class="shape" points="{points}" fill="#e8f0fb" stroke="#1f4e8c" '
        'stroke-width="0.35"/>',
        f'<path class="boxing-centre" d="M{cx - 1.5:.2f},{-cy:.2f}h3M{cx:.2f},{-cy - 1.5:.2f}v3" '
        'stroke="#888" stroke-width="0.2"/>',
    ]
    if lens.optical_centre is not None:
        ox, oy = lens.optical_centre
        out.append(
            f'<circle class="optical-centre" cx="{ox:.2f}" cy="{-oy:.2f}" r="1" fill="none" '
            'stroke="#c0392b" stroke-width="0.3"/>'
        )
    if lens.near_centre is not None:
        nx, ny = lens.near_centre
        out.append(
            f'<circle class="near-centre" cx="{nx:.2f}" cy="{-ny:.2f}" r="0.6" fill="#c0392b"/>'
        )
    rows = (
        f"{lens.side}: {m.hbox:.2f} x {m.vbox:.2f}",
        f"ED {m.ed:.2f}",
        f"CIRC {m.circ:.2f}",
    )
    for i, row in enumerate(rows, start=1):
        y = baseline + i * TEXT_MM * 1.5
        out.append(f'<text x="{cx:.2f}" y="{y:.2f}" text-anchor="middle">{row}</text>')
    out.append("</g>")
    return out
