"""The SVG of a file's lens shapes, and the frame layout the PDF layer draws from."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from ils.oma import parse
from ils.oma.render import DEFAULT_DBL_MM, frame_layout, render_svg
from tests.oma.samples import RIGHT_ONLY_UNEQUAL, rectangular_job

SVG = "{http://www.w3.org/2000/svg}"


def test_both_lenses_with_box_centres_and_measures():
    oma = parse(rectangular_job(1000, 50.0, 30.0))
    root = ET.fromstring(render_svg(oma))
    groups = root.findall(f"{SVG}g")
    assert [g.get("class") for g in groups] == ["lens lens-R", "lens lens-L"]
    for group in groups:
        assert group.find(f"{SVG}polygon") is not None
        assert group.find(f"{SVG}rect[@class='box']") is not None
        assert group.find(f"{SVG}circle[@class='optical-centre']") is not None
        assert group.find(f"{SVG}circle[@class='near-centre']") is not None
        texts = [t.text for t in group.findall(f"{SVG}text")]
        assert texts[1:] == ["ED 58.30", "CIRC 160.02"]
    all_text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "R: 50.01 x 30.01" in all_text and "DBL 18.00" in all_text


def test_the_layout_places_the_lenses_dbl_apart_with_their_optical_centres():
    layout = frame_layout(parse(rectangular_job(1000, 50.0, 30.0)))
    right, left = layout.lens("R"), layout.lens("L")
    assert right is not None and left is not None
    assert left.box[0] - right.box[2] == pytest.approx(18.0)
    assert right.centre[0] < 0 < left.centre[0]
    # IPD 32.00 / 31.50 from the bridge's middle, OCHT 20 above the box bottom.
    assert right.optical_centre == pytest.approx((-32.0, -15.0 + 20.0), abs=0.02)
    assert left.optical_centre == pytest.approx((31.5, 5.0), abs=0.02)
    assert len(right.outline) == 1000


def test_one_side_only_draws_one_lens():
    layout = frame_layout(parse(RIGHT_ONLY_UNEQUAL))
    assert [lens.side for lens in layout.lenses] == ["R"]
    assert layout.dbl == DEFAULT_DBL_MM and not layout.dbl_recorded
    root = ET.fromstring(render_svg(parse(RIGHT_ONLY_UNEQUAL)))
    assert len(root.findall(f"{SVG}g")) == 1


def test_a_file_without_trace_says_so():
    root = ET.fromstring(render_svg(parse(b"JOB=<&>\r\n")))
    assert root.findall(f"{SVG}g") == []
    assert root.find(f"{SVG}title").text == "OMA job <&>"
    assert "no trace" in "".join(t.text or "" for t in root.iter(f"{SVG}text"))
