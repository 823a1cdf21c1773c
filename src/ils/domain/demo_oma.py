"""The demo's traced orders: a DCS file for a few of the newest open orders (their Rx, a frame
of varied shape and size, its box records), stored as ``process-oma-file`` would store it, so
the dashboard, the trace routes and the lab work tickets have shapes to show.

Pure: it returns the rows and the originals' bytes; :mod:`ils.domain.demo` inserts the rows and,
when it has the file storage, writes the originals (and the SVG of each trace).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ils.domain.enums import OrderStatus
from ils.jobs.oma.reading import (
    FRAME_LABELS,
    RX_LABELS,
    derived_measures,
    per_side,
    traces_of,
)
from ils.oma import OmaFile, Trace, build, write
from ils.oma.geometry import measure

#: How many of the newest open orders get a traced frame.
TRACED_ORDERS = 6
POINTS = 400
OPEN = (OrderStatus.pending, OrderStatus.in_production, OrderStatus.quality_check)


@dataclass(frozen=True)
class TracedOrder:
    row: dict[str, Any]  # the oma_files row, without its id
    original: bytes
    oma: OmaFile


def frame_trace(side: str, width_mm: float, height_mm: float, squareness: float) -> Trace:
    """A lens shape between an ellipse (``squareness`` 2) and a rounded rectangle (higher), of
    that box size, as an equiangular ASCII trace; the left lens mirrors the right."""
    a, b, n = width_mm / 2, height_mm / 2, squareness
    radii = []
    for i in range(POINTS):
        t = 2 * math.pi * i / POINTS
        c, s = abs(math.cos(t)), abs(math.sin(t))
        r = ((c / a) ** n + (s / b) ** n) ** (-1 / n)
        radii.append(round(r * 100))
    return Trace(1, POINTS, True, side, "F", tuple(radii))


def _text(value: Any, places: int = 2) -> str:
    return "" if value is None else f"{float(value):.{places}f}"


def oma_for(order: dict[str, Any], rng: random.Random) -> OmaFile:
    """The DCS file of one demo order: its Rx and a frame drawn at random."""
    width = rng.choice((48.0, 50.0, 52.0, 54.0, 56.0))
    height = round(width * rng.uniform(0.62, 0.8), 1)
    squareness = rng.choice((2.0, 2.5, 3.5, 5.0))
    traces = [frame_trace(side, width, height, squareness) for side in ("R", "L")]
    m = measure(traces[0])
    dbl = rng.choice(("16.00", "17.00", "18.00", "19.00", "20.00"))
    fields: list[tuple[str, Sequence[object]]] = [
        ("JOB", (order["number"],)),
        ("SPH", (_text(order.get("right_sphere")), _text(order.get("left_sphere")))),
        ("CYL", (_text(order.get("right_cylinder")), _text(order.get("left_cylinder")))),
        ("AX", (_text(order.get("right_axis"), 0), _text(order.get("left_axis"), 0))),
        ("HBOX", (f"{m.hbox:.2f}", f"{m.hbox:.2f}")),
        ("VBOX", (f"{m.vbox:.2f}", f"{m.vbox:.2f}")),
        ("FED", (f"{m.ed:.2f}", f"{m.ed:.2f}")),
        ("DBL", (dbl,)),
    ]
    return build(fields, traces)


def traced_orders(
    rng: random.Random, orders: Sequence[tuple[dict[str, Any], int]], created: dt.datetime
) -> list[TracedOrder]:
    """A traced file for the newest open orders (``(order row, id)``, oldest first)."""
    open_orders = [(row, oid) for row, oid in orders if row["status"] in OPEN]
    out = []
    for n, (row, order_id) in enumerate(open_orders[-TRACED_ORDERS:], start=1):
        oma = oma_for(row, rng)
        original = write(oma)
        company_id = row["company_id"]
        out.append(TracedOrder({
            "company_id": company_id, "order_id": order_id, "job_id": f"demo-oma-{n}",
            "job_ref": row["number"], "filename": f"{row['number']}.oma",
            "path": f"{company_id}/oma/demo-oma-{n}.oma", "size": len(original),
            "sha256": hashlib.sha256(original).hexdigest(), "status": "valid",
            "data": {"rx": per_side(oma, RX_LABELS), "frame": per_side(oma, FRAME_LABELS),
                     "derived": derived_measures(oma), "checks": []},
            "traces": traces_of(oma), "issues": [], "svg_path": None, "created_at": created,
        }, original, oma))  # fmt: skip
    return out
