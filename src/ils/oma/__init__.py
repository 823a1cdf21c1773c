"""OMA/DCS lab files (the Vision Council's Data Communication Standard): parse, write, validate.

Pure Python and light to import (no database, web or PDF library), so the ``oma`` worker can
load it. ``parse(bytes) -> OmaFile`` raises only ``OmaError``; ``write(parse(b)) == b``.
"""

from ils.oma.errors import OmaError, UnsupportedTraceFormat
from ils.oma.model import OmaFile, Record, Trace
from ils.oma.parser import parse
from ils.oma.writer import build, trace_records, write

__all__ = [
    "OmaError",
    "OmaFile",
    "Record",
    "Trace",
    "UnsupportedTraceFormat",
    "build",
    "parse",
    "trace_records",
    "write",
]
