"""The frame shape a lab work ticket draws: each traced lens's outline and box in millimetres,
placed in the frame as ``ils.oma.render.frame_layout`` places them, from the traces the order's
newest OMA file left in its row (``oma_files.traces``). Plain data, no reportlab."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ils.jobs.oma.reading import drawable
from ils.jobs.pdf.content import LensShape, Shape
from ils.oma.render import frame_layout


def shape_of(data: Mapping[str, Any], traces: Mapping[str, Any]) -> Shape | None:
    """The frame's shape from an ``oma_files`` row's ``data`` and ``traces``; None when nothing
    was traced."""
    oma = drawable(None, data, traces)
    if not oma.traces:
        return None
    layout = frame_layout(oma)
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
