"""Frame measures derived from a trace: the box (HBOX/VBOX), the effective diameter, the
circumference, and how they compare with the measures the file records.

Points are in millimetres with y up, the trace's own origin (its centre of rotation) at (0, 0);
``Measures`` also gives the boxing centre, from which the effective diameter is measured.

Every per-point step runs as ``map`` over C functions (``math.hypot``, ``operator.mul``...), the
cosines and sines of equiangular traces computed once per point count: a 2048-point trace is
measured in about a millisecond, with the same floating-point operations, in the same order, as
one point at a time (so the same results, to the last bit).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from itertools import repeat
from operator import mul, sub, truediv
from typing import Protocol

from ils.oma.catalog import decimal_value
from ils.oma.model import OmaFile, Record, Trace

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


Coordinates = tuple[list[float], list[float]]


@functools.lru_cache(maxsize=32)
def _equiangular(points: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The cosines and sines of ``points`` equal steps round the circle (``Trace.angle_at``)."""
    radians = [math.radians(360.0 * i / points) for i in range(points)]
    return tuple(map(math.cos, radians)), tuple(map(math.sin, radians))


def coordinates(trace: Trace) -> Coordinates:
    """The trace's points in mm as ``(xs, ys)`` (x to angle 0, y to angle 90,
    counter-clockwise): the points of :func:`outline`, unzipped."""
    radii = trace.radii
    n = len(radii)
    if n == 0:
        return [], []
    mm = list(map(truediv, radii, repeat(100.0)))
    given = 0 if trace.equiangular else min(len(trace.angles), n)
    if given == 0:
        cosines, sines = _equiangular(n)
    else:
        degrees = list(map(truediv, trace.angles[:given], repeat(100.0)))
        degrees += [360.0 * i / n for i in range(given, n)]
        radians = list(map(math.radians, degrees))
        cosines, sines = tuple(map(math.cos, radians)), tuple(map(math.sin, radians))
    return list(map(mul, mm, cosines)), list(map(mul, mm, sines))


def outline(trace: Trace) -> list[Point]:
    """The trace's points in mm (x to angle 0, y to angle 90, counter-clockwise)."""
    return list(zip(*coordinates(trace), strict=True))


def measure(trace: Trace) -> Measures:
    """The measures of a trace's shape. A trace without points measures zero."""
    return measure_coordinates(*coordinates(trace))


def measure_outline(points: list[Point]) -> Measures:
    return measure_coordinates([x for x, _ in points], [y for _, y in points])


def measure_coordinates(xs: list[float], ys: list[float]) -> Measures:
    """The measures of the outline whose points are ``zip(xs, ys)``."""
    if not xs:
        return Measures(0.0, 0.0, 0.0, 0.0, (0.0, 0.0, 0.0, 0.0))
    box = (min(xs), min(ys), max(xs), max(ys))
    cx, cy = box_centre(box)
    ed = 2 * max(map(math.hypot, map(sub, xs, repeat(cx)), map(sub, ys, repeat(cy))))
    # Each side, from a point to the next and the last back to the first (hypot of the
    # differences is what math.dist of the two points computes).
    nxs, nys = xs[1:] + xs[:1], ys[1:] + ys[:1]
    circ = sum(map(math.hypot, map(sub, xs, nxs), map(sub, ys, nys)))
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


class Labelled(Protocol):
    """What reads a record by label: an :class:`OmaFile`, or a drawing rebuilt from a row."""

    def get(self, label: str) -> Record | None: ...


def side_number(oma: Labelled, label: str, index: int) -> float | None:
    """A side's number in a chiral record (a one-field record serves both sides)."""
    record = oma.get(label)
    if record is None or not record.values:
        return None
    text = record.values[index] if index < len(record.values) else record.values[0]
    return decimal_value(text)
