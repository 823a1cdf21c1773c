"""Reading OMA/DCS bytes into an ``OmaFile``: line splitting, the character set, record syntax.

Every record keeps its exact text and line ending, so ``write(parse(data)) == data`` for every
file this accepts. Any bad input raises ``OmaError`` (or its ``UnsupportedTraceFormat``), naming
the line and, when there is one, the label.
"""

from __future__ import annotations

import re

from ils.oma.errors import OmaError, UnsupportedTraceFormat
from ils.oma.model import OmaFile, Record
from ils.oma.trcfmt import KNOWN_FORMATS, SUPPORTED_FORMATS, parse_int

#: Labels are letters, digits and ``_`` (vendor labels start with one).
_LABEL = re.compile(r"[A-Za-z0-9_]+")
#: Any character a record may not hold: outside printable ASCII (line endings are split off).
_BAD_CHAR = re.compile(r"[^\x20-\x7e]")
_TRCFMT_FORMAT = re.compile(rb"(?:^|\n)TRCFMT=\s*([0-9]+)")


def parse(data: bytes) -> OmaFile:
    """The OMA/DCS file in ``data``; raises OmaError when it cannot be read."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise OmaError(f"expected bytes, got {type(data).__name__}")
    raw = bytes(data)
    if not raw:
        raise OmaError("empty file")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as exc:
        _refuse_binary_trace(raw, exc.start)
        line = raw.count(b"\n", 0, exc.start) + 1
        raise OmaError(
            f"non-ASCII byte 0x{raw[exc.start]:02X} at column {_column(raw, exc.start)}", line=line
        ) from None
    return OmaFile(tuple(_records(text, raw)))


def _records(text: str, raw: bytes) -> list[Record]:
    lines = text.split("\n")
    last = len(lines) - 1
    records = []
    for index, line in enumerate(lines):
        if index == last:
            if line == "":
                break
            eol = ""
        else:
            eol = "\n"
        if line.endswith("\r"):
            line, eol = line[:-1], "\r" + eol
        records.append(_record(line, eol, index + 1, raw))
    return records


def _record(line: str, eol: str, number: int, raw: bytes) -> Record:
    if line == "":
        return Record("", (), number, eol)
    label, sep, rest = line.partition("=")
    bad = _BAD_CHAR.search(line)
    if bad is not None:
        offset = sum(len(x) + 1 for x in raw.decode("ascii").split("\n")[: number - 1])
        _refuse_binary_trace(raw, offset + bad.start())
        name = "carriage return without line feed" if bad.group() == "\r" else "control character"
        raise OmaError(
            f"{name} 0x{ord(bad.group()):02X} at column {bad.start() + 1}",
            line=number,
            label=label if sep and _LABEL.fullmatch(label) else None,
        )
    if not sep:
        raise OmaError(f"not a LABEL=value record: {line[:40]!r}", line=number)
    if not _LABEL.fullmatch(label):
        raise OmaError(
            f"a label is letters, digits and '_', got {label[:40]!r}", line=number, label=None
        )
    return Record(label, tuple(rest.split(";")), number, eol)


def _refuse_binary_trace(raw: bytes, position: int) -> None:
    """Bytes a text record may not hold, after a ``TRCFMT`` of a binary encoding: that trace's
    data, which this package does not read; say so rather than "non-ASCII byte"."""
    for match in _TRCFMT_FORMAT.finditer(raw, 0, position):
        number = parse_int(match.group(1).decode("ascii"))
        if number is not None and number in KNOWN_FORMATS - SUPPORTED_FORMATS:
            line = raw.count(b"\n", 0, match.start(1)) + 1
            raise UnsupportedTraceFormat(str(number), line=line)


def _column(raw: bytes, position: int) -> int:
    return position - (raw.rfind(b"\n", 0, position) + 1) + 1
