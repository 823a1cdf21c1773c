"""The errors of the OMA/DCS format layer: one root, ``OmaError``, naming the line and label.

Whatever bytes ``ils.oma.parse`` is given, it raises only these (or returns a file).
"""

from __future__ import annotations

from typing import Any

from ils.errors import IlsJobsError


class OmaError(IlsJobsError):
    """An OMA/DCS file could not be read; ``line`` (1-based) and ``label`` say where, when known."""

    def __init__(self, message: str, *, line: int | None = None, label: str | None = None) -> None:
        self.message = message
        self.line = line
        self.label = label
        super().__init__(message)

    def __str__(self) -> str:
        where = []
        if self.line is not None:
            where.append(f"line {self.line}")
        if self.label is not None:
            where.append(f"label {self.label}")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def __reduce__(self) -> tuple[Any, ...]:
        # Keeps line and label across a process pool (exceptions travel pickled).
        return _rebuild, (type(self), self.__dict__.copy())


class UnsupportedTraceFormat(OmaError):
    """A ``TRCFMT`` record announces a trace encoding this package does not read."""

    def __init__(self, trace_format: str, *, line: int | None = None) -> None:
        self.trace_format = trace_format
        super().__init__(f"unsupported trace format {trace_format}", line=line, label="TRCFMT")


def _rebuild(cls: type[OmaError], state: dict[str, Any]) -> OmaError:
    error = cls.__new__(cls)
    Exception.__init__(error, state.get("message", ""))
    error.__dict__.update(state)
    return error
