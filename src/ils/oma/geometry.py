"""Frame measures derived from a trace: the box (HBOX/VBOX), the effective diameter, the
circumference, and how they compare with the measures the file records.

Points are in millimetres with y up, the trace's own origin (its centre of rotation) at (0, 0);
``Measures`` also gives the boxing centre, from which the effective diameter is measured.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ils.oma.catalog import decimal_value
from ils.oma.model import OmaFile, Trace

Point = tuple[float, float]
#: A box as (left, bottom, right, top), in mm.
Box = tuple[float, float, float, float]

#: Default tolerances (mm) between a computed measure and the file's record.
BOX_TOLERANCE_MM = 0.2
FED_TOLERANCE_MM = 0.2
CIRC_TOLERANCE_MM = 0.5


@dataclass(frozen=True, slots=True)
class Measures:
    """A shape's measures in mm: box width and height, effective diameter (twice the largest
    distance from the boxing centre to the outline), circumference (the outline's perimeter)."""

    hbox: float
    vbox: float
    ed: float
    circ: float
    #: The box in the trace's coordinates.
    box: Box

    @property
    def centre(self) -> Point:
        """The boxing centre: the middle of the box."""
        return box_centre(self.box)


def box_centre(box: Box) -> Point:
    left, bottom, right, top = box
    return (left + right) / 2, (bottom + top) / 2


@dataclass(frozen=True, slots=True)
class Comparison:
    """One computed measure against the file's record for that side."""

    label: str  # HBOX, VBOX, FED or CIRC
    side: str
    recorded: float
    computed: float
    tolerance: float

    @property
    def difference(self) -> float:
        return self.computed - self.recorded

    @property
    def ok(self) -> bool:
        return abs(self.difference) <= self.tolerance


def outline(trace: Trace) -> list[Point]:
    """The trace's points in mm (x to angle 0, y to angle 90, counter-clockwise)."""
    points = []
    for degrees, radius in trace.polar():
        angle = math.radians(degrees)
        points.append((radius * math.cos(angle), radius * math.sin(angle)))
    return points


def measure(trace: Trace) -> Measures:
    """The measures of a trace's shape. A trace without points measures zero."""
    return measure_outline(outline(trace))


def measure_outline(points: list[Point]) -> Measures:
    if not points:
        return Measures(0.0, 0.0, 0.0, 0.0, (0.0, 0.0, 0.0, 0.0))
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    box = (min(xs), min(ys), max(xs), max(ys))
    cx, cy = box_centre(box)
    ed = 2 * max(math.hypot(x - cx, y - cy) for x, y in points)
    circ = sum(math.dist(points[i], points[(i + 1) % len(points)]) for i in range(len(points)))
    return Measures(box[2] - box[0], box[3] - box[1], ed, circ, box)


def compare(
    oma: OmaFile,
    *,
    box_tolerance: float = BOX_TOLERANCE_MM,
    fed_tolerance: float = FED_TOLERANCE_MM,
    circ_tolerance: float = CIRC_TOLERANCE_MM,
) -> list[Comparison]:
    """Each of HBOX, VBOX, FED and CIRC the file records for a side it has a trace of, against
    the value computed from that trace (the frame trace when there are several)."""
    results = []
    for side, index in (("R", 0), ("L", 1)):
        trace = oma.trace(side, "frame") or oma.trace(side)
        if trace is None:
            continue
        measures = measure(trace)
        computed = {
            "HBOX": (measures.hbox, box_tolerance),
            "VBOX": (measures.vbox, box_tolerance),
            "FED": (measures.ed, fed_tolerance),
            "CIRC": (measures.circ, circ_tolerance),
        }
        for label, (value, tolerance) in computed.items():
            recorded = side_number(oma, label, index)
            if recorded is not None:
                results.append(Comparison(label, side, recorded, round(value, 2), tolerance))
    return results


def side_number(oma: OmaFile, label: str, index: int) -> float | None:
    """A side's number in a chiral record (a one-field record serves both sides)."""
    record = oma.get(label)
    if record is None or not record.values:
        return None
    text = record.values[index] if index < len(record.values) else record.values[0]
    return decimal_value(text)
