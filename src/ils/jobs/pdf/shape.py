"""The frame shape a lab work ticket draws: each traced lens's outline and box in millimetres,
placed in the frame as ``ils.oma.render.frame_layout`` places them, from the traces the order's
newest OMA file left in its row (``oma_files.traces``). Plain data, no reportlab."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ils.jobs.pdf.content import LensShape, Shape
from ils.oma import Trace, build
from ils.oma.render import frame_layout

SIDE_CODES = {"right": "R", "left": "L"}


def trace_of(side: str, stored: Mapping[str, Any]) -> Trace:
    """A trace as ``process-oma-file`` stored it (``ils.jobs.oma.reading.trace_data``)."""
    return Trace(
        format=int(stored.get("format", 1)),
        points=int(stored["points"]),
        equiangular=bool(stored["equiangular"]),
        side=side,
        kind_code=str(stored.get("kind", "F")),
        radii=tuple(int(r) for r in stored["radii"]),
        angles=tuple(int(a) for a in stored.get("angles", ())),
    )


def shape_of(traces: Mapping[str, Any], dbl: str | None) -> Shape | None:
    """The frame's shape from stored traces (``{"right": {...}, "left": {...}}``) and the file's
    ``DBL`` text; None when nothing was traced."""
    found = [trace_of(SIDE_CODES[name], t) for name, t in traces.items() if name in SIDE_CODES]
    found = [t for t in found if t.radii]
    if not found:
        return None
    layout = frame_layout(build([("DBL", (dbl,))] if dbl else [], found))
    lenses = tuple(
        LensShape(
            side=lens.side,
            outline=tuple((round(x, 2), round(y, 2)) for x, y in lens.outline),
            box=lens.box,
            label=f"{lens.side} {lens.measures.hbox:.2f} x {lens.measures.vbox:.2f}, "
            f"ED {lens.measures.ed:.2f}",
        )
        for lens in layout.lenses
    )
    return Shape(lenses=lenses, bounds=layout.bounds, dbl=layout.dbl)
