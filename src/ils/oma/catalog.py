"""The records this package understands: each label's meaning, whether it is chiral (right;left)
and how its fields read (decimal, integer, text).

Labels not listed here are still kept verbatim, in order; they are only not checked.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

FieldKind = Literal["decimal", "integer", "text"]


@dataclass(frozen=True, slots=True)
class Label:
    name: str
    meaning: str
    chiral: bool
    kind: FieldKind
    #: Inclusive bounds of a number, when the standard's domain gives them.
    low: float = -math.inf
    high: float = math.inf


def _rx(
    name: str,
    meaning: str,
    kind: FieldKind = "decimal",
    low: float = -math.inf,
    high: float = math.inf,
) -> Label:
    return Label(name, meaning, True, kind, low, high)


_LABELS = (
    Label("JOB", "lab job identifier the file belongs to", False, "text"),
    Label("REQ", "request type of a device session message", False, "text"),
    Label("ANS", "answer type of a device session message", False, "text"),
    Label("STATUS", "status code of a device session answer", False, "integer"),
    Label("DBL", "distance between lenses (bridge), mm", False, "decimal", 0, 99.99),
    Label("CIRC", "frame circumference, mm", True, "decimal", 0, 999.99),
    Label("FED", "effective diameter of the frame, mm", True, "decimal", 0, 199.99),
    Label("HBOX", "horizontal box size, mm", True, "decimal", 0, 199.99),
    Label("VBOX", "vertical box size, mm", True, "decimal", 0, 199.99),
    Label("FTYP", "frame type", False, "integer"),
    Label("ETYP", "edge type", False, "integer"),
    _rx("SPH", "sphere power, dioptres", "decimal", -40, 40),
    _rx("CYL", "cylinder power, dioptres", "decimal", -20, 20),
    _rx("AX", "cylinder axis, degrees", "decimal", 0, 180),
    _rx("ADD", "addition, dioptres", "decimal", 0, 10),
    _rx("IPD", "interpupillary (monocular far) distance, mm", "decimal", 0, 99.99),
    _rx("NPD", "near pupillary distance, mm", "decimal", 0, 99.99),
    _rx("SEGHT", "segment height from the box bottom, mm", "decimal", -99.99, 99.99),
    _rx("OCHT", "optical centre height from the box bottom, mm", "decimal", -99.99, 99.99),
    _rx("PRVM", "prism magnitude, prism dioptres", "decimal", 0, 40),
    _rx("PRVA", "prism base direction, degrees", "decimal", 0, 360),
    _rx("LIND", "lens material refractive index", "decimal", 1, 3),
    _rx("LMATID", "lens material identifier", "integer"),
    _rx("LMATTYPE", "lens material type", "text"),
    _rx("LNAM", "lens design name", "text"),
    _rx("DIA", "lens blank diameter, mm", "decimal", 0, 199.99),
    _rx("CTHICK", "centre thickness, mm", "decimal", 0, 99.99),
    _rx("BVD", "back vertex distance, mm", "decimal", 0, 99.99),
    _rx("PANTO", "pantoscopic tilt, degrees", "decimal", -90, 90),
    _rx("ZTILT", "frame wrap (face form) angle, degrees", "decimal", -90, 90),
    _rx("MBASE", "marked base curve, dioptres", "decimal", 0, 30),
    _rx("TINT", "tint", "text"),
    _rx("ACOAT", "anti-reflective coating", "text"),
    Label("TRCFMT", "trace header: format;points;E or U;side;kind", False, "text"),
    Label("R", "trace radii, 1/100 mm", False, "integer"),
    Label("A", "trace angles, 1/100 degree (non-equiangular traces)", False, "integer"),
    Label("Z", "trace depths, 1/100 mm", False, "integer"),
)

LABELS: dict[str, Label] = {label.name: label for label in _LABELS}
CHIRAL = frozenset(name for name, label in LABELS.items() if label.chiral)

#: Values the standard uses for "unknown / not given" in a field.
UNKNOWN_VALUES = frozenset({"", "?"})

_DECIMAL = re.compile(r"\s*[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)\s*")
_INTEGER = re.compile(r"\s*[+-]?[0-9]+\s*")


def decimal_value(text: str) -> float | None:
    """A decimal field (``-2.25``, ``+.5``, ``18``; spaces around allowed) as a float, or None."""
    return float(text) if _DECIMAL.fullmatch(text) else None


def is_integer(text: str) -> bool:
    return _INTEGER.fullmatch(text) is not None
