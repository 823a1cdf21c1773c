"""Checking a parsed OMA/DCS file against the standard's rules: trace point counts, radii and
angles in range, chiral records with both sides, required records, numeric fields.

``validate`` never raises on a parsed file: it returns the issues, each naming line and label.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ils.oma.catalog import CHIRAL, LABELS, UNKNOWN_VALUES, Label, decimal_value, is_integer
from ils.oma.model import TRACE_DATA_LABELS, OmaFile, Record, Trace

Severity = Literal["error", "warning"]

#: Radii are 1/100 mm: a positive radius up to 99.99 mm (a 200 mm blank is beyond any lens).
RADIUS_MIN, RADIUS_MAX = 1, 9999
#: Angles are 1/100 degree in [0, 360).
ANGLE_MIN, ANGLE_MAX = 0, 35999
#: Records a file must hold, per request type (``REQ``'s value; None: a job file without one).
REQUIRED_BY_REQUEST: dict[str | None, tuple[str, ...]] = {
    None: ("JOB",),
    "TRC": ("JOB", "TRCFMT"),
}


@dataclass(frozen=True, slots=True)
class OmaIssue:
    severity: Severity
    line: int | None
    label: str | None
    message: str

    def __str__(self) -> str:
        where = ", ".join(
            part
            for part in (
                f"line {self.line}" if self.line is not None else "",
                f"label {self.label}" if self.label is not None else "",
            )
            if part
        )
        return (
            f"{self.severity}: {where}: {self.message}"
            if where
            else f"{self.severity}: {self.message}"
        )


def validate(oma: OmaFile) -> list[OmaIssue]:
    """Every issue of the file, in line order (file-wide ones first)."""
    issues: list[OmaIssue] = []
    issues += _required(oma)
    for record in oma.records:
        if record.label not in TRACE_DATA_LABELS:  # most lines of a file; checked per trace
            issues += _record(record)
    issues += _stray_trace_data(oma)
    seen: set[tuple[str, str]] = set()
    for trace in oma.traces:
        issues += _trace(trace)
        if (trace.side, trace.kind_code) in seen:
            message = f"a second {trace.side} trace of kind {trace.kind}: the first one is used"
            issues.append(OmaIssue("warning", trace.line, "TRCFMT", message))
        seen.add((trace.side, trace.kind_code))
    return sorted(issues, key=lambda i: (i.line or 0, i.label or ""))


def errors(oma: OmaFile) -> list[OmaIssue]:
    """Only the issues of severity ``error``."""
    return [i for i in validate(oma) if i.severity == "error"]


def _required(oma: OmaFile) -> list[OmaIssue]:
    request = oma.request
    required = REQUIRED_BY_REQUEST.get(request.strip() if request is not None else None, ())
    present = {r.label for r in oma.records}
    missing = [label for label in required if label not in present]
    what = f"a {request.strip()} request" if request is not None else "a job file"
    return [OmaIssue("error", None, label, f"{what} needs a {label} record") for label in missing]


def _record(record: Record) -> list[OmaIssue]:
    if record.blank:
        return [OmaIssue("warning", record.line, None, "blank line")]
    label = LABELS.get(record.label)
    if label is None or record.label in TRACE_DATA_LABELS or record.label == "TRCFMT":
        return []
    issues = []
    if label.chiral and len(record.values) != 2:
        issues.append(
            OmaIssue(
                "error",
                record.line,
                record.label,
                f"a chiral record holds right;left, got {len(record.values)} field(s)",
            )
        )
    for index, text in enumerate(record.values[:2] if label.chiral else record.values):
        side = ("right", "left")[index] if label.chiral else None
        problem = _field(label, text)
        if problem is not None:
            where = f"{side} value" if side else "value"
            issues.append(OmaIssue("error", record.line, record.label, f"{where} {problem}"))
    return issues


def _field(label: Label, text: str) -> str | None:
    if label.kind == "text" or text.strip() in UNKNOWN_VALUES:
        return None
    number = decimal_value(text)
    if number is None or (label.kind == "integer" and not is_integer(text)):
        return f"{text!r} is not {'an integer' if label.kind == 'integer' else 'a number'}"
    if not label.low <= number <= label.high:
        return f"{text.strip()} is out of range [{label.low:g}, {label.high:g}]"
    return None


def _stray_trace_data(oma: OmaFile) -> list[OmaIssue]:
    """R/A/Z records that no TRCFMT announces are kept, but cannot be read as a trace."""
    issues = []
    in_trace = False
    for record in oma.records:
        if record.label == "TRCFMT":
            in_trace = True
        elif record.label in TRACE_DATA_LABELS:
            if not in_trace:
                issues.append(
                    OmaIssue(
                        "error", record.line, record.label, "trace data without a TRCFMT before it"
                    )
                )
        else:
            in_trace = False
    return issues


def _trace(trace: Trace) -> list[OmaIssue]:
    issues = []

    def issue(label: str, message: str, severity: Severity = "error") -> None:
        issues.append(OmaIssue(severity, trace.line, label, message))

    if trace.side not in ("R", "L"):
        issue("TRCFMT", f"trace side {trace.side} is neither R nor L", "warning")
    if len(trace.radii) != trace.points:
        issue("R", f"TRCFMT announces {trace.points} points, the R records hold {len(trace.radii)}")
    in_range = not trace.radii or RADIUS_MIN <= min(trace.radii) <= max(trace.radii) <= RADIUS_MAX
    bad = [] if in_range else [r for r in trace.radii if not RADIUS_MIN <= r <= RADIUS_MAX]
    if bad:
        issue("R", f"{len(bad)} radii out of range [{RADIUS_MIN}, {RADIUS_MAX}] (first: {bad[0]})")
    if trace.equiangular:
        if trace.angles:
            issue("A", "an equiangular (E) trace has A records", "warning")
    else:
        if len(trace.angles) != trace.points:
            issue(
                "A",
                f"TRCFMT announces {trace.points} points, the A records hold {len(trace.angles)}",
            )
        out = (
            []
            if not trace.angles or ANGLE_MIN <= min(trace.angles) <= max(trace.angles) <= ANGLE_MAX
            else [a for a in trace.angles if not ANGLE_MIN <= a <= ANGLE_MAX]
        )
        if out:
            issue(
                "A", f"{len(out)} angles out of range [{ANGLE_MIN}, {ANGLE_MAX}] (first: {out[0]})"
            )
        if any(b <= a for a, b in zip(trace.angles, trace.angles[1:], strict=False)):
            issue("A", "angles are not strictly increasing")
    if trace.depths and len(trace.depths) != trace.points:
        issue(
            "Z", f"TRCFMT announces {trace.points} points, the Z records hold {len(trace.depths)}"
        )
    return issues


__all__ = ["CHIRAL", "OmaIssue", "errors", "validate"]
