"""Validation against the standard's rules: each issue names its line and label."""

from __future__ import annotations

from ils.oma import parse
from ils.oma.validate import OmaIssue, errors, validate
from tests.oma.samples import (
    RIGHT_ONLY_UNEQUAL,
    circle,
    circular_job,
    job_file,
    r_lines,
    rectangular_job,
)


def test_well_formed_files_have_no_issue():
    for data in (circular_job(400), rectangular_job(1000), circular_job(2048), RIGHT_ONLY_UNEQUAL):
        assert validate(parse(data)) == []


def test_a_truncated_trace_is_a_count_error_on_its_trcfmt_line():
    data = job_file(f"TRCFMT=1;400;E;R;F\r\n{r_lines(circle(390, 20.0))}")
    assert errors(parse(data)) == [
        OmaIssue("error", 13, "R", "TRCFMT announces 400 points, the R records hold 390")
    ]
    assert str(errors(parse(data))[0]) == (
        "error: line 13, label R: TRCFMT announces 400 points, the R records hold 390"
    )


def test_too_many_radii_and_missing_angles_are_errors():
    data = b"JOB=1\r\nTRCFMT=1;4;U;L;F\r\nR=2000;2000;2000;2000;2000\r\nA=0;9000;18000\r\n"
    messages = [(i.label, i.message) for i in errors(parse(data))]
    assert messages == [
        ("A", "TRCFMT announces 4 points, the A records hold 3"),
        ("R", "TRCFMT announces 4 points, the R records hold 5"),
    ]


def test_radii_and_angles_out_of_range():
    data = b"JOB=1\r\nTRCFMT=1;4;U;R;F\r\nR=0;2000;12000;2000\r\nA=0;9000;36000;27000\r\n"
    messages = sorted(i.message for i in errors(parse(data)))
    assert messages == [
        "1 angles out of range [0, 35999] (first: 36000)",
        "2 radii out of range [1, 9999] (first: 0)",
        "angles are not strictly increasing",
    ]


def test_chiral_records_need_both_sides():
    data = b"JOB=1\r\nSPH=-2.00\r\nCYL=-0.50;-0.25;-1.00\r\nAX=90;\r\n"
    found = [(i.line, i.label, i.message) for i in errors(parse(data))]
    assert found == [
        (2, "SPH", "a chiral record holds right;left, got 1 field(s)"),
        (3, "CYL", "a chiral record holds right;left, got 3 field(s)"),
    ]


def test_numeric_fields_must_parse_and_be_in_range():
    data = b"JOB=1\r\nSPH=-2.x5;-1.75\r\nAX=90;181\r\nDBL=?\r\nSTATUS=1.5\r\nLIND=1.6;?\r\n"
    found = [(i.line, i.label, i.message) for i in errors(parse(data))]
    assert found == [
        (2, "SPH", "right value '-2.x5' is not a number"),
        (3, "AX", "left value 181 is out of range [0, 180]"),
        (5, "STATUS", "value '1.5' is not an integer"),
    ]


def test_required_records_per_request_type():
    assert [(i.label, i.message) for i in errors(parse(b"DBL=18\r\n"))] == [
        ("JOB", "a job file needs a JOB record")
    ]
    trc = parse(b"REQ=TRC\r\nDBL=18\r\n")
    assert sorted(i.message for i in errors(trc)) == [
        "a TRC request needs a JOB record",
        "a TRC request needs a TRCFMT record",
    ]
    assert errors(parse(b"REQ=INI\r\nTRCFMT=1;400;E;R\r\n")) == []


def test_stray_trace_data_and_blank_lines():
    data = b"JOB=1\r\nR=2000;2000\r\n\r\n"
    assert [(i.severity, i.line, i.message) for i in validate(parse(data))] == [
        ("error", 2, "trace data without a TRCFMT before it"),
        ("warning", 3, "blank line"),
    ]


def test_unknown_and_vendor_labels_are_not_checked():
    assert validate(parse(b"JOB=1\r\n_X=1;2;3\r\nNEWLABEL=what;ever\r\n")) == []


def test_a_second_trace_of_the_same_side_and_kind_is_a_warning():
    data = b"JOB=1\r\nTRCFMT=1;2;E;R;F\r\nR=2000;2000\r\nTRCFMT=1;2;E;R;F\r\nR=2100;2100\r\n"
    oma = parse(data)
    assert oma.trace("R").radii == (2000, 2000)
    assert [(i.severity, i.line, i.message) for i in validate(oma)] == [
        ("warning", 4, "a second R trace of kind frame: the first one is used")
    ]
