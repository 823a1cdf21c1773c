"""OMA files for the oma job tests, written through ``ils.oma.build``: a circular and an oval
frame trace per side with matching (or not) box records, and broken variants."""

from __future__ import annotations

import math

from ils.oma import Trace, build, write


def circle(side: str, radius: int = 2500, points: int = 400) -> Trace:
    return Trace(1, points, True, side, "F", tuple([radius] * points))


def oval(side: str, a_mm: float = 26.0, b_mm: float = 18.0, points: int = 400) -> Trace:
    """An ellipse of half-axes ``a_mm`` x ``b_mm``, radii in 1/100 mm, equiangular."""
    radii = []
    for i in range(points):
        t = 2 * math.pi * i / points
        r = a_mm * b_mm / math.hypot(b_mm * math.cos(t), a_mm * math.sin(t))
        radii.append(round(r * 100))
    return Trace(1, points, True, side, "F", tuple(radii))


def job_file(job: str | None = "ORD-000042", *, hbox: str = "50.00", traces: bool = True,
             extra: tuple[tuple[str, tuple[object, ...]], ...] = ()) -> bytes:  # fmt: skip
    """A job file for ``job``: Rx, a 50 mm round frame per side, its box records."""
    fields: list[tuple[str, tuple[object, ...]]] = [("JOB", (job,))] if job else []
    fields += [
        ("SPH", ("-2.25", "-1.75")),
        ("CYL", ("-0.50", "0.00")),
        ("AX", ("90", "0")),
        ("IPD", ("31.50", "31.00")),
        ("HBOX", (hbox, hbox)),
        ("VBOX", ("50.00", "50.00")),
        ("DBL", ("18.00",)),
        ("_VENDOR", ("kept", "as is")),
        *extra,
    ]
    return write(build(fields, [circle("R"), circle("L")] if traces else []))


def truncated() -> bytes:
    """A file whose right trace announces 400 points and carries 200."""
    data = job_file()
    lines = data.split(b"\r\n")
    first_r = next(i for i, line in enumerate(lines) if line.startswith(b"R="))
    return b"\r\n".join(lines[:first_r] + lines[first_r + 20 :])
