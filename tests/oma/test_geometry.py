"""Measures from traces (box, effective diameter, circumference) and their comparison with the
file's HBOX/VBOX/FED/CIRC records."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ils.oma import Trace, parse
from ils.oma.geometry import Comparison, compare, measure, outline
from tests.oma.samples import circle, circular_job, rectangle, rectangular_job


@pytest.mark.parametrize("points", [400, 1000, 2048])
def test_a_circle_measures_its_diameter_and_perimeter(points):
    trace = Trace(1, points, True, "R", "F", tuple(circle(points, 25.0)))
    m = measure(trace)
    assert m.hbox == pytest.approx(50.0, abs=0.01)
    assert m.vbox == pytest.approx(50.0, abs=0.01)
    assert m.ed == pytest.approx(50.0, abs=0.01)
    assert m.circ == pytest.approx(math.pi * 50.0, abs=0.05)
    assert m.centre == pytest.approx((0.0, 0.0), abs=0.01)


def test_a_rectangle_measures_its_sides_and_diagonal():
    trace = Trace(1, 1000, True, "L", "F", tuple(rectangle(1000, 50.0, 30.0)))
    m = measure(trace)
    assert (m.hbox, m.vbox) == (pytest.approx(50.0, abs=0.02), pytest.approx(30.0, abs=0.02))
    assert m.ed == pytest.approx(2 * math.hypot(25.0, 15.0), abs=0.05)
    assert m.circ == pytest.approx(160.0, abs=0.1)


def test_an_off_centre_shape_measures_from_its_boxing_centre():
    # A circle of radius 20 whose centre of rotation sits 5 mm right of the shape's centre.
    points = 720
    radii, angles = [], []
    for i in range(points):
        t = 2 * math.pi * i / points
        x, y = 20 * math.cos(t) - 5, 20 * math.sin(t)
        radii.append(round(100 * math.hypot(x, y)))
        angles.append(round(math.degrees(math.atan2(y, x)) % 360 * 100))
    order = sorted(range(points), key=lambda k: angles[k])
    trace = Trace(
        1, points, False, "R", "F", tuple(radii[k] for k in order), tuple(angles[k] for k in order)
    )
    m = measure(trace)
    assert m.centre[0] == pytest.approx(-5.0, abs=0.05)
    assert m.ed == pytest.approx(40.0, abs=0.05)


def test_comparisons_against_the_records_present():
    found = compare(parse(circular_job(400, 25.0)))
    assert {(c.label, c.side) for c in found} == {
        (label, side) for label in ("HBOX", "VBOX", "FED") for side in "RL"
    }
    assert all(c.ok for c in found)
    rect = compare(parse(rectangular_job(1000, 50.0, 30.0)))
    assert {c.label for c in rect} == {"HBOX", "VBOX", "CIRC"} and all(c.ok for c in rect)


def test_a_box_record_that_disagrees_with_the_trace_is_reported():
    data = circular_job(400, 25.0).replace(b"HBOX=50.00;50.00", b"HBOX=52.00;50.00")
    wrong = [c for c in compare(parse(data)) if not c.ok]
    assert wrong == [Comparison("HBOX", "R", 52.0, 50.0, 0.2)]
    assert wrong[0].difference == pytest.approx(-2.0)


def test_no_trace_no_comparison():
    assert compare(parse(b"JOB=1\r\nHBOX=50;50\r\n")) == []


@settings(max_examples=200, deadline=None)
@given(
    radii=st.lists(st.integers(0, 9999), min_size=1, max_size=80),
    equiangular=st.booleans(),
    angles=st.lists(st.integers(0, 35999), max_size=80),
)
def test_the_outline_is_each_polar_point_to_the_last_bit(radii, equiangular, angles):
    # The outline is computed for a whole trace at once; each point must be exactly what the
    # point's own angle and radius give (fewer angles than radii: the rest equiangular).
    trace = Trace(1, len(radii), equiangular, "R", "F", tuple(radii), tuple(angles))
    expected = [
        (r * math.cos(math.radians(a)), r * math.sin(math.radians(a))) for a, r in trace.polar()
    ]
    assert outline(trace) == expected
    xs, ys = zip(*expected, strict=True)
    cx, cy = (min(xs) + max(xs)) / 2, (min(ys) + max(ys)) / 2
    m = measure(trace)
    assert m.ed == 2 * max(math.hypot(x - cx, y - cy) for x, y in expected)
    assert m.circ == sum(
        math.dist(expected[i], expected[(i + 1) % len(expected)]) for i in range(len(expected))
    )
