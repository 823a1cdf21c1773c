"""The OMA/DCS data model: records exactly as written, traces read from them, and the file.

A file is its records in file order (vendor and unknown labels included, text untouched); the
traces are derived from the ``TRCFMT`` and ``R``/``A``/``Z`` records, so two files with the same
records are equal.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from ils.oma.errors import OmaError
from ils.oma.trcfmt import parse_int, parse_ints, read_header

#: The line ending the standard prescribes (CR LF); ``Record.eol`` keeps what a file used.
CRLF = "\r\n"

#: Trace record labels that follow a ``TRCFMT`` record: radii, angles, depths.
TRACE_DATA_LABELS = frozenset({"R", "A", "Z"})

TraceKind = Literal["frame", "pattern", "lens", "demo", "unknown"]
#: ``TRCFMT`` field 5 (what was traced) to a name.
TRACE_KINDS: dict[str, TraceKind] = {"F": "frame", "P": "pattern", "L": "lens", "D": "demo"}


@dataclass(frozen=True, slots=True)
class Record:
    """One ``LABEL=value;value…`` line: ``values`` are the exact text fields between ``;``.

    A blank line is kept as a record with an empty label and no values, so that writing the file
    back gives the same bytes. ``line`` (1-based) is where it was read; it is not compared.
    """

    label: str
    values: tuple[str, ...] = ()
    line: int = field(default=0, compare=False)
    eol: str = CRLF

    @classmethod
    def of(cls, label: str, *values: object) -> Record:
        """A record from a label and values (each turned into text with ``str``)."""
        return cls(label, tuple(str(v) for v in values))

    @property
    def blank(self) -> bool:
        return self.label == ""

    @property
    def text(self) -> str:
        """The line as written, without its line ending."""
        if self.blank:
            return ""
        return f"{self.label}={';'.join(self.values)}"

    @property
    def value(self) -> str:
        """The first field ("" when the record has none)."""
        return self.values[0] if self.values else ""


@dataclass(frozen=True, slots=True)
class Trace:
    """A traced shape: polar radii in 1/100 mm, at angles in 1/100 degree.

    ``format`` is ``TRCFMT``'s first field (1: ASCII), ``points`` the number it announced,
    ``equiangular`` its ``E``/``U``, ``side`` ``R`` or ``L``, ``kind_code`` what was traced
    (``F`` frame, ``P`` pattern, ``L`` lens, ``D`` demo lens). ``angles`` is empty for an
    equiangular trace; ``depths`` (``Z`` records) is empty when absent.
    """

    format: int
    points: int
    equiangular: bool
    side: str
    kind_code: str
    radii: tuple[int, ...]
    angles: tuple[int, ...] = ()
    depths: tuple[int, ...] = ()
    line: int = field(default=0, compare=False)

    @property
    def kind(self) -> TraceKind:
        return TRACE_KINDS.get(self.kind_code, "unknown")

    def angle_at(self, index: int) -> float:
        """The angle of point ``index`` in degrees: its ``A=`` value, or 360 * index / n for an
        equiangular trace (and for a point past the angles a malformed trace gives)."""
        if self.equiangular or index >= len(self.angles):
            return 360.0 * index / max(len(self.radii), 1)
        return self.angles[index] / 100.0

    def polar(self) -> Iterator[tuple[float, float]]:
        """Each point as ``(angle in degrees, radius in mm)``."""
        for i, r in enumerate(self.radii):
            yield self.angle_at(i), r / 100.0


@dataclass(frozen=True, slots=True)
class OmaFile:
    """An OMA/DCS file: its records in file order and the traces read from them."""

    records: tuple[Record, ...]
    traces: tuple[Trace, ...] = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "records", tuple(self.records))
        object.__setattr__(self, "traces", tuple(read_traces(self.records)))

    def all(self, label: str) -> list[Record]:
        """Every record with that label, in file order."""
        return [r for r in self.records if r.label == label]

    def get(self, label: str) -> Record | None:
        """The first record with that label, or None."""
        for r in self.records:
            if r.label == label:
                return r
        return None

    def value(self, label: str) -> str | None:
        """The first field of the first record with that label, or None."""
        record = self.get(label)
        return None if record is None else record.value

    @property
    def job(self) -> str | None:
        """The ``JOB`` record's value: the lab job this file belongs to."""
        return self.value("JOB")

    @property
    def request(self) -> str | None:
        """The ``REQ`` record's value (the request type of a device session), when present."""
        return self.value("REQ")

    def chiral(self, label: str) -> tuple[str | None, str | None]:
        """A chiral record's ``(right, left)`` fields; a side missing or empty is None."""
        record = self.get(label)
        if record is None:
            return None, None
        right = record.values[0] if record.values and record.values[0] != "" else None
        left = record.values[1] if len(record.values) > 1 and record.values[1] != "" else None
        return right, left

    def trace(self, side: str, kind: TraceKind | None = None) -> Trace | None:
        """The first trace of that side (``R``/``L``), of that kind when given."""
        return first_trace(self.traces, side, kind)


def first_trace(traces: Iterable[Trace], side: str, kind: TraceKind | None = None) -> Trace | None:
    """The first of ``traces`` of that side (``R``/``L``), of that kind when given."""
    for t in traces:
        if t.side == side and (kind is None or t.kind == kind):
            return t
    return None


def read_traces(records: Iterable[Record]) -> Iterator[Trace]:
    """The traces of a record sequence: each ``TRCFMT`` with the ``R``/``A``/``Z`` records that
    follow it. A ``TRCFMT`` with no data after it (a device announcing the formats it accepts, in
    an ``INI`` request) is no trace. Raises OmaError when a trace's records are malformed, and
    UnsupportedTraceFormat when data follows a header of an encoding this package does not read.
    """
    header: Record | None = None
    data: list[Record] = []
    for record in records:
        if header is not None and record.label in TRACE_DATA_LABELS:
            data.append(record)
            continue
        if header is not None and data:
            yield _trace(header, data)
        header = record if record.label == "TRCFMT" else None
        data = []
    if header is not None and data:
        yield _trace(header, data)


def _integers(records: list[Record]) -> list[int]:
    """The integer fields of several records, in order: one conversion for a whole trace. An
    empty last field (a record ending in ``;``, as some devices write) holds no value."""
    numbers = parse_ints([v for r in records for v in _fields(r)])
    if numbers is not None:
        return numbers
    for record in records:
        for text in _fields(record):
            if parse_int(text) is None:
                raise OmaError(f"not an integer: {text!r}", line=record.line, label=record.label)
    raise AssertionError("unreachable: some field failed to parse")


def _fields(record: Record) -> tuple[str, ...]:
    values = record.values
    return values[:-1] if values and values[-1].strip() == "" else values


def _trace(header: Record, data: list[Record]) -> Trace:
    fmt, points, equiangular, side, kind = read_header(header)
    return Trace(
        format=fmt,
        points=points,
        equiangular=equiangular,
        side=side,
        kind_code=kind,
        radii=tuple(_integers([r for r in data if r.label == "R"])),
        angles=tuple(_integers([r for r in data if r.label == "A"])),
        depths=tuple(_integers([r for r in data if r.label == "Z"])),
        line=header.line,
    )
