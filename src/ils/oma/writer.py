"""Writing an ``OmaFile`` back to bytes, and building records and files from values.

``write`` joins each record's exact text with its own line ending; files built here use CR LF
as the standard prescribes, and trace records of ten values a line.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from ils.oma.model import CRLF, OmaFile, Record, Trace

#: Values per ``R=``/``A=``/``Z=`` record when a trace is written out.
VALUES_PER_LINE = 10


def write(oma: OmaFile) -> bytes:
    """The file's bytes: each record as written, with its own line ending."""
    return "".join(r.text + r.eol for r in oma.records).encode("ascii")


def trace_records(trace: Trace, per_line: int = VALUES_PER_LINE) -> list[Record]:
    """The ``TRCFMT`` record and the ``R`` (``A``, ``Z``) records of a trace, in ASCII format."""
    records = [
        Record.of(
            "TRCFMT",
            1,
            len(trace.radii),
            "E" if trace.equiangular else "U",
            trace.side,
            trace.kind_code,
        )
    ]
    for label, values in (("R", trace.radii), ("A", trace.angles), ("Z", trace.depths)):
        for start in range(0, len(values), per_line):
            records.append(Record.of(label, *values[start : start + per_line]))
    return records


def build(
    fields: Iterable[tuple[str, Sequence[object]]] = (), traces: Iterable[Trace] = ()
) -> OmaFile:
    """A file from ``(label, values)`` pairs followed by the records of each trace; lines are
    numbered and end in CR LF."""
    records = [Record.of(label, *values) for label, values in fields]
    for trace in traces:
        records.extend(trace_records(trace))
    return OmaFile(
        tuple(Record(r.label, r.values, n, CRLF) for n, r in enumerate(records, start=1))
    )
