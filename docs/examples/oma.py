"""Reading, checking, measuring and writing an OMA/DCS file (docs/oma.md quotes this file).

Run it from the repository's root: ``python -m docs.examples.oma``. The test suite runs
:func:`main` and checks what it returns (``tests/oma/test_docs.py``).
"""

from __future__ import annotations

from typing import Any

from ils.oma import OmaError, Trace, build, parse, write
from ils.oma.geometry import compare, measure
from ils.oma.render import frame_layout, render_svg
from ils.oma.validate import validate

# A right-lens-only job: prescription, frame records, a vendor record, an 8-point trace.
DATA = (
    b"JOB=ORD-1042\r\n"
    b"SPH=-2.25;\r\n"
    b"CYL=-0.50;\r\n"
    b"AX=90;\r\n"
    b"IPD=32.00;\r\n"
    b"OCHT=20.00;\r\n"
    b"HBOX=40.00;\r\n"
    b"_LABNOTE=rush;keep cool\r\n"
    b"TRCFMT=1;8;E;R;F\r\n"
    b"R=2000;2000;2000;2000;2000;2000;2000;2000\r\n"
)


def main() -> dict[str, Any]:
    oma = parse(DATA)  # raises OmaError (naming line and label) on anything it cannot read
    assert write(oma) == DATA  # byte for byte, vendor records and line endings included

    right = oma.trace("R")
    assert right is not None
    shape = measure(right)  # box, effective diameter, circumference, in mm

    # A new file for a lab device: records from values, the trace as R= records, CR LF.
    export = build(
        [("JOB", ["ORD-1042"]), ("SPH", ["-2.25", ""])],
        [
            Trace(
                format=1,
                points=4,
                equiangular=True,
                side="R",
                kind_code="F",
                radii=(2000, 1500, 2000, 1500),
            )
        ],
    )
    try:
        parse(b"JOB=1\r\nTRCFMT=4;512;E;R;F\r\nR=\x91\xf1\r\n")
    except OmaError as error:
        refused = str(error)
    return {
        "job": oma.job,
        "sph": oma.chiral("SPH"),
        "vendor": oma.get("_LABNOTE"),
        "issues": [str(issue) for issue in validate(oma)],
        "hbox_vbox_ed": (round(shape.hbox, 2), round(shape.vbox, 2), round(shape.ed, 2)),
        "hbox_check": [(c.label, c.side, c.recorded, c.computed, c.ok) for c in compare(oma)],
        "lenses_drawn": [lens.side for lens in frame_layout(oma).lenses],
        "svg_starts": render_svg(oma)[:4],
        "export": write(export).decode("ascii").splitlines(),
        "refused": refused,
    }


if __name__ == "__main__":
    for key, value in main().items():
        print(f"{key}: {value}")
