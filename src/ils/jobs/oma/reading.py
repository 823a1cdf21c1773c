"""What ``process-oma-file`` keeps of a parsed OMA file: the Rx and frame records per side (their
text as written), each side's trace, and the order fields an exported file is written from.

Pure: it reads an :class:`ils.oma.OmaFile` and the order's values, never the database.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ils.oma import OmaFile, Record, Trace
    from ils.oma.geometry import Comparison
    from ils.oma.model import TraceKind

#: The prescription records kept per side (chiral records: right;left).
RX_LABELS = ("SPH", "CYL", "AX", "ADD", "IPD", "NPD", "PRVM", "PRVA", "SEGHT", "OCHT", "LIND",
             "LMATTYPE", "LTYPE", "ETYP", "BCERIN", "BCERUP")  # fmt: skip
#: The frame records kept per side.
FRAME_LABELS = ("HBOX", "VBOX", "DBL", "FED", "CIRC", "FTYP", "FMAT", "FCRV", "BEVP")
SIDES = {"R": "right", "L": "left"}


def per_side(oma: OmaFile, labels: tuple[str, ...]) -> dict[str, dict[str, str]]:
    """``{"right": {label: text}, "left": {...}}`` for each of ``labels`` the file has; a record
    with one value (``DBL=18``) counts for both sides."""
    out: dict[str, dict[str, str]] = {"right": {}, "left": {}}
    for label in labels:
        record = oma.get(label)
        if record is None:
            continue
        if len(record.values) == 1:
            right = left = record.values[0] or None
        else:
            right, left = oma.chiral(label)
        for side, text in (("right", right), ("left", left)):
            if text is not None:
                out[side][label] = text.strip()
    return out


def trace_data(trace: Trace) -> dict[str, Any]:
    return {
        "format": trace.format,
        "points": trace.points,
        "equiangular": trace.equiangular,
        "kind": trace.kind_code,
        "radii": list(trace.radii),
        "angles": list(trace.angles),
    }


def stored_trace(side: str, stored: Mapping[str, Any]) -> Trace:
    """A trace back from :func:`trace_data` (``side`` ``R`` or ``L``)."""
    from ils.oma import Trace

    return Trace(
        format=int(stored.get("format", 1)),
        points=int(stored["points"]),
        equiangular=bool(stored["equiangular"]),
        side=side,
        kind_code=str(stored.get("kind", "F")),
        radii=tuple(map(int, stored["radii"])),
        angles=tuple(map(int, stored.get("angles", ()))),
    )


def stored_traces(traces: Mapping[str, Any]) -> list[Trace]:
    """The traces of a row's ``traces`` (:func:`traces_of`), right first, each with points."""
    found = [stored_trace(code, traces[name]) for code, name in SIDES.items() if name in traces]
    return [t for t in found if t.radii]


def traces_of(oma: OmaFile) -> dict[str, dict[str, Any]]:
    """The first trace of each side the file traces; a ``B`` (both) trace stands for both sides,
    the left one mirrored as the standard has it."""
    out: dict[str, dict[str, Any]] = {}
    for trace in oma.traces:
        sides = ("R", "L") if trace.side == "B" else (trace.side,)
        for side in sides:
            name = SIDES.get(side)
            if name is not None and name not in out:
                out[name] = trace_data(trace) | {"mirrored": trace.side == "B" and side == "L"}
    return out


def derived_measures(oma: OmaFile) -> dict[str, dict[str, float]]:
    """Box width and height, effective diameter and circumference (mm) of each traced side's
    frame trace (its only trace when it has no frame one)."""
    from ils.oma.geometry import measure

    derived = {}
    for side, name in SIDES.items():
        trace = oma.trace(side, "frame") or oma.trace(side)
        if trace is not None and trace.radii:
            m = measure(trace)
            derived[name] = {"hbox": round(m.hbox, 2), "vbox": round(m.vbox, 2),
                             "ed": round(m.ed, 2), "circ": round(m.circ, 2)}  # fmt: skip
    return derived


#: Each recorded measure, the key of :func:`derived_measures` it is checked against, and how
#: far apart the two may be (``ils.oma.geometry``'s tolerances).
CHECKED = (("HBOX", "hbox", "BOX_TOLERANCE_MM"), ("VBOX", "vbox", "BOX_TOLERANCE_MM"),
           ("FED", "ed", "FED_TOLERANCE_MM"), ("CIRC", "circ", "CIRC_TOLERANCE_MM"))  # fmt: skip


def comparisons(oma: OmaFile, derived: Mapping[str, Mapping[str, float]]) -> list[Comparison]:
    """``ils.oma.geometry.compare`` from measures already taken (each trace measured once)."""
    from ils.oma import geometry

    out = []
    for index, (code, name) in enumerate(SIDES.items()):
        measured = derived.get(name)
        if measured is None:
            continue
        for label, key, tolerance in CHECKED:
            recorded = geometry.side_number(oma, label, index)
            if recorded is not None:
                out.append(geometry.Comparison(label, code, recorded, measured[key],
                                               getattr(geometry, tolerance)))  # fmt: skip
    return out


#: The records a drawing reads besides the traces: the centres' positions and the bridge.
DRAWN_LABELS = ("IPD", "NPD", "OCHT", "SEGHT")


@dataclass(frozen=True)
class StoredDrawing:
    """What ``ils.oma.render`` draws, rebuilt from a stored row: the few records it reads and
    the traces as stored (never written out as ``R=`` text to be read back)."""

    records: OmaFile
    traces: tuple[Trace, ...]

    @property
    def job(self) -> str | None:
        return self.records.job

    def get(self, label: str) -> Record | None:
        return self.records.get(label)

    def trace(self, side: str, kind: TraceKind | None = None) -> Trace | None:
        from ils.oma.model import first_trace

        return first_trace(self.traces, side, kind)


def drawable(
    job_ref: str | None, data: Mapping[str, Any], traces: Mapping[str, Any]
) -> StoredDrawing:
    """What ``ils.oma.render`` draws, rebuilt from a stored row (``data`` and ``traces`` as
    ``process-oma-file`` keeps them): no need to read and parse the original."""
    from ils.oma import build

    rx = data.get("rx", {})
    fields: list[tuple[str, tuple[object, ...]]] = [("JOB", (job_ref,))] if job_ref else []
    for label in DRAWN_LABELS:
        right, left = rx.get("right", {}).get(label), rx.get("left", {}).get(label)
        if right is not None or left is not None:
            fields.append((label, (right or "", left or "")))
    dbl = data.get("frame", {}).get("right", {}).get("DBL")
    if dbl is not None:
        fields.append(("DBL", (dbl,)))
    return StoredDrawing(build(fields), tuple(stored_traces(traces)))


def number(text: str | None) -> float | None:
    """A record's text as a number, or None (empty, or not a number)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def order_fields(order: Mapping[str, Any]) -> list[tuple[str, list[object]]]:
    """The DCS records of an order's Rx and frame (``order``: its column values), chiral records
    right;left, values as the standard writes them (two decimals, axis whole degrees)."""

    def fmt(value: Any, places: int = 2) -> str:
        return "" if value is None else f"{float(value):.{places}f}"

    def chiral(column: str, places: int = 2) -> list[object]:
        return [fmt(order.get(f"right_{column}"), places), fmt(order.get(f"left_{column}"), places)]

    fields: list[tuple[str, list[object]]] = [("JOB", [order["number"]])]
    for label, column in (("SPH", "sphere"), ("CYL", "cylinder"), ("ADD", "add")):
        fields.append((label, chiral(column)))
    fields.append(("AX", chiral("axis", 0)))
    if order.get("pd_right") is not None or order.get("pd_left") is not None:
        fields.append(("IPD", [fmt(order.get("pd_right")), fmt(order.get("pd_left"))]))
    elif order.get("pd_binocular") is not None:
        half = float(order["pd_binocular"]) / 2
        fields.append(("IPD", [f"{half:.2f}", f"{half:.2f}"]))
    for label, column in (("HBOX", "frame_a"), ("VBOX", "frame_b"), ("FED", "frame_ed")):
        if order.get(column) is not None:
            fields.append((label, [fmt(order[column]), fmt(order[column])]))
    if order.get("frame_dbl") is not None:
        fields.append(("DBL", [fmt(order["frame_dbl"])]))
    return fields
