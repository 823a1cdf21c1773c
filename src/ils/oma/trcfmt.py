"""The ``TRCFMT`` record: the header that announces a trace (encoding, point count, angle mode,
side, what was traced), read strictly so that each malformed field is named.

Fields may carry spaces around them (devices pad them); the record's text is kept as written.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ils.oma.errors import OmaError, UnsupportedTraceFormat

if TYPE_CHECKING:
    from ils.oma.model import Record

#: The trace encodings this package reads: 1 is the ASCII encoding (``R=`` records of integers).
SUPPORTED_FORMATS = frozenset({1})
#: The encodings the standard defines; the binary ones (2 to 4) are refused with their number.
KNOWN_FORMATS = frozenset({1, 2, 3, 4})
SIDES = frozenset({"R", "L", "B"})

#: Integers of up to 9 digits: radii and angles are far below, and Python's own limit on the
#: length of a number it reads is never reached.
INT_LIMIT = 10**9


def parse_int(text: str) -> int | None:
    """A decimal integer field (sign and spaces around it allowed), or None when it is not one."""
    numbers = parse_ints((text,))
    return None if numbers is None else numbers[0]


def parse_ints(values: Sequence[str]) -> list[int] | None:
    """All the fields as integers, or None when one of them is not an integer field."""
    # int() reads exactly the decimal fields the standard writes, plus digit groups ("1_000"),
    # which no DCS field has; the input is printable ASCII, so no other digits or spaces.
    if "_" in "".join(values):
        return None
    try:
        numbers = list(map(int, values))
    except ValueError:
        return None
    if numbers and not (min(numbers) > -INT_LIMIT and max(numbers) < INT_LIMIT):
        return None
    return numbers


def read_header(record: Record) -> tuple[int, int, bool, str, str]:
    """``(format, points, equiangular, side, kind code)`` of a ``TRCFMT`` record."""
    fields = [v.strip() for v in record.values]
    if len(fields) < 4:
        raise OmaError(
            f"TRCFMT needs format;points;E|U;side[;kind], got {len(fields)} field(s)",
            line=record.line,
            label=record.label,
        )
    fmt = parse_int(fields[0])
    if fmt is None:
        raise OmaError(
            f"trace format is not a number: {fields[0]!r}", line=record.line, label="TRCFMT"
        )
    if fmt not in SUPPORTED_FORMATS:
        raise UnsupportedTraceFormat(fields[0], line=record.line)
    points = parse_int(fields[1])
    if points is None or points <= 0:
        raise OmaError(
            f"number of points must be a positive integer, got {fields[1]!r}",
            line=record.line,
            label="TRCFMT",
        )
    if fields[2] not in ("E", "U"):
        raise OmaError(
            f"angle mode must be E (equiangular) or U (angles given), got {fields[2]!r}",
            line=record.line,
            label="TRCFMT",
        )
    if fields[3] not in SIDES:
        raise OmaError(
            f"side must be R, L or B, got {fields[3]!r}", line=record.line, label="TRCFMT"
        )
    kind = fields[4] if len(fields) > 4 else ""
    if kind and not re.fullmatch(r"[A-Z]", kind):
        raise OmaError(
            f"trace kind must be one letter (F, P, L, D...), got {kind!r}",
            line=record.line,
            label="TRCFMT",
        )
    return fmt, points, fields[2] == "E", fields[3], kind
