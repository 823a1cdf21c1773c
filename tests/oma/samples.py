"""OMA/DCS files for the tests, written as text the way the standard describes them.

Only the radii of long traces are computed (a circle, a rectangle with rounded corners); every
record line is spelled out here, independently of ``ils.oma``'s writer.
"""

from __future__ import annotations

import math


def r_lines(values: list[int], per_line: int = 10, label: str = "R") -> str:
    """``R=`` records of ``per_line`` values each, CR LF terminated."""
    return "".join(
        f"{label}=" + ";".join(str(v) for v in values[i : i + per_line]) + "\r\n"
        for i in range(0, len(values), per_line)
    )


def circle(points: int, radius_mm: float) -> list[int]:
    return [round(radius_mm * 100)] * points


def rectangle(points: int, width_mm: float, height_mm: float) -> list[int]:
    """Radii of a width x height rectangle centred on the origin, at equal angles."""
    radii = []
    for i in range(points):
        angle = 2 * math.pi * i / points
        c, s = abs(math.cos(angle)), abs(math.sin(angle))
        half_w = width_mm / 2 / c if c > 1e-12 else math.inf
        half_h = height_mm / 2 / s if s > 1e-12 else math.inf
        radii.append(round(100 * min(half_w, half_h)))
    return radii


def job_file(
    trace_text: str,
    *,
    job: str = "4711",
    extra: str = "",
) -> bytes:
    """A lab job file: header records, a prescription, frame records, then the traces."""
    text = (
        f"JOB={job}\r\n"
        "DO=B\r\n"
        "SPH=-2.25;-1.75\r\n"
        "CYL=-0.50;-0.75\r\n"
        "AX=90;85\r\n"
        "ADD=2.00;2.00\r\n"
        "IPD=32.00;31.50\r\n"
        "NPD=30.00;29.50\r\n"
        "OCHT=20.00;20.00\r\n"
        "SEGHT=18.00;18.00\r\n"
        "LIND=1.600;1.600\r\n"
        "DBL=18.00\r\n"
        f"{extra}"
        f"{trace_text}"
    )
    return text.encode("ascii")


def circular_job(points: int = 400, radius_mm: float = 25.0) -> bytes:
    radii = circle(points, radius_mm)
    trace = (
        f"TRCFMT=1;{points};E;R;F\r\n{r_lines(radii)}TRCFMT=1;{points};E;L;F\r\n{r_lines(radii)}"
    )
    box = f"{2 * radius_mm:.2f}"
    return job_file(trace, extra=f"HBOX={box};{box}\r\nVBOX={box};{box}\r\nFED={box};{box}\r\n")


def rectangular_job(points: int = 1000, width: float = 50.0, height: float = 30.0) -> bytes:
    radii = rectangle(points, width, height)
    trace = (
        f"TRCFMT=1;{points};E;R;F\r\n{r_lines(radii)}TRCFMT=1;{points};E;L;F\r\n{r_lines(radii)}"
    )
    return job_file(
        trace,
        extra=(
            f"HBOX={width:.2f};{width:.2f}\r\nVBOX={height:.2f};{height:.2f}\r\n"
            f"CIRC={2 * (width + height):.2f};{2 * (width + height):.2f}\r\n"
        ),
    )


#: A right-side-only job with a non-equiangular 8-point trace and vendor records, by hand.
RIGHT_ONLY_UNEQUAL = (
    b"JOB=A-17\r\n"
    b"_LABNAME=North Lab;v2\r\n"
    b"SPH=+1.25;\r\n"
    b"CYL=-0.25;\r\n"
    b"AX=180;\r\n"
    b"HBOX=40.00;\r\n"
    b"VBOX=40.00;\r\n"
    b"TRCFMT=1;8;U;R;F\r\n"
    b"R=2000;2000;2000;2000;2000;2000;2000;2000\r\n"
    b"A=0;4500;9000;13500;18000;22500;27000;31500\r\n"
    b"_XDATA=;;keep;as is\r\n"
)
