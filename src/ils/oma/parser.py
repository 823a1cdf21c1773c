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
#: Any character a record may not hold: outside printable ASCII, or a CR that ends no line.
_BAD_CHAR = re.compile(r"[^\x20-\x7e\r\n]|\r(?!\n|\Z)")
#: The start of a line that is neither blank nor ``LABEL=``.
_NOT_A_RECORD = re.compile(r"^(?![A-Za-z0-9_]+=|\r?$)", re.MULTILINE)
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
    # Printable ASCII once line endings are out: checked in C first, located only when not.
    probe = text.replace("\r\n", "").replace("\n", "")
    if not probe.removesuffix("\r").isprintable():
        bad = _BAD_CHAR.search(text)
        if bad is not None:
            _refuse_bad_char(text, raw, bad)
    bad_line = _NOT_A_RECORD.search(text)
    if bad_line is not None:
        _refuse_bad_line(text, bad_line.start())
    return OmaFile(tuple(_records(text)))


def _records(text: str) -> list[Record]:
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
        if line == "":
            records.append(Record("", (), index + 1, eol))
            continue
        label, _, rest = line.partition("=")
        records.append(Record(label, tuple(rest.split(";")), index + 1, eol))
    return records


def _refuse_bad_line(text: str, start: int) -> None:
    end = text.find("\n", start)
    line = text[start : end if end >= 0 else len(text)].removesuffix("\r")
    number = text.count("\n", 0, start) + 1
    label, sep, _ = line.partition("=")
    if not sep:
        raise OmaError(f"not a LABEL=value record: {line[:40]!r}", line=number)
    raise OmaError(f"a label is letters, digits and '_', got {label[:40]!r}", line=number)


def _refuse_bad_char(text: str, raw: bytes, bad: re.Match[str]) -> None:
    _refuse_binary_trace(raw, bad.start())
    start = text.rfind("\n", 0, bad.start()) + 1
    line = text.count("\n", 0, bad.start()) + 1
    label, sep, _ = text[start : bad.start()].partition("=")
    name = "carriage return without line feed" if bad.group() == "\r" else "control character"
    raise OmaError(
        f"{name} 0x{ord(bad.group()):02X} at column {bad.start() - start + 1}",
        line=line,
        label=label if sep and _LABEL.fullmatch(label) else None,
    )


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
