"""Reading OMA/DCS files: records and traces as written, byte-exact round trips, and every bad
input refused with an OmaError naming the line and label."""

from __future__ import annotations

import pytest

from ils.oma import OmaError, OmaFile, Record, UnsupportedTraceFormat, parse, write
from tests.oma.samples import (
    RIGHT_ONLY_UNEQUAL,
    circle,
    circular_job,
    job_file,
    r_lines,
    rectangle,
    rectangular_job,
)


@pytest.mark.parametrize("points", [400, 1000, 2048])
def test_a_circular_frame_reads_both_traces_and_writes_back_the_same_bytes(points):
    data = circular_job(points, 25.0)
    oma = parse(data)
    assert oma.job == "4711"
    assert [(t.side, t.kind, t.points, t.equiangular) for t in oma.traces] == [
        ("R", "frame", points, True),
        ("L", "frame", points, True),
    ]
    right = oma.trace("R")
    assert right is not None and right.radii == tuple(circle(points, 25.0))
    assert right.angles == () and right.format == 1
    assert write(oma) == data


@pytest.mark.parametrize("points", [400, 1000, 2048])
def test_a_rectangular_frame_keeps_its_radii_in_order(points):
    oma = parse(rectangular_job(points, 50.0, 30.0))
    left = oma.trace("L", "frame")
    assert left is not None
    assert left.radii == tuple(rectangle(points, 50.0, 30.0))
    assert write(oma) == rectangular_job(points, 50.0, 30.0)


def test_chiral_records_give_right_and_left():
    oma = parse(circular_job())
    assert oma.chiral("SPH") == ("-2.25", "-1.75")
    assert oma.chiral("IPD") == ("32.00", "31.50")
    assert oma.chiral("NOPE") == (None, None)
    assert oma.value("DBL") == "18.00"
    assert oma.get("AX") == Record("AX", ("90", "85"))
    assert oma.request is None


def test_a_right_side_only_file_with_angles_and_vendor_labels():
    oma = parse(RIGHT_ONLY_UNEQUAL)
    assert oma.chiral("SPH") == ("+1.25", None)
    assert oma.trace("L") is None
    trace = oma.trace("R")
    assert trace is not None and not trace.equiangular
    assert trace.angles == (0, 4500, 9000, 13500, 18000, 22500, 27000, 31500)
    assert [round(a, 2) for a, _ in trace.polar()][:3] == [0.0, 45.0, 90.0]
    # Vendor records are kept, in place, fields untouched (empty ones included).
    assert [r.label for r in oma.records][1] == "_LABNAME"
    assert oma.get("_XDATA") == Record("_XDATA", ("", "", "keep", "as is"))
    assert oma.records[-1].line == 11
    assert write(oma) == RIGHT_ONLY_UNEQUAL


def test_line_endings_are_kept_as_each_line_had_them():
    data = b"JOB=1\nSPH=-1.00;-1.00\r\nDBL=18\r\nCYL=0;0"
    oma = parse(data)
    assert [r.eol for r in oma.records] == ["\n", "\r\n", "\r\n", ""]
    assert write(oma) == data


def test_blank_lines_and_spaces_in_fields_are_kept():
    data = b"JOB=1\r\n\r\nTRCFMT=  1;4 ;E; R;F\r\nR= 2500;2500;2500;2500\r\n\r\n"
    oma = parse(data)
    assert oma.records[1].blank and oma.records[1].line == 2
    assert oma.traces[0].side == "R" and oma.traces[0].radii == (2500,) * 4
    assert write(oma) == data


def test_depths_are_read_with_the_trace():
    data = b"JOB=1\r\nTRCFMT=1;4;E;R;F\r\nR=2500;2500;2500;2500\r\nZ=100;120;100;80\r\n"
    trace = parse(data).traces[0]
    assert trace.depths == (100, 120, 100, 80)


def test_a_trcfmt_without_data_announces_a_format_and_is_no_trace():
    # A device's INI request lists the formats it reads, with no radii after them.
    data = b"REQ=INI\r\nTRCFMT=1;400;E;R\r\nTRCFMT=4;400;E;R\r\nDEV=TRACER\r\n"
    oma = parse(data)
    assert oma.traces == () and oma.request == "INI"
    assert write(oma) == data


@pytest.mark.parametrize("fmt", [2, 3, 4])
def test_binary_trace_formats_are_refused_by_number(fmt):
    binary = bytes([0x5D, 0x09, 0x00, 0x80, 0x1B, 0x91, 0xF1, 0xFF])
    data = b"JOB=1\r\nTRCFMT=  %d;512 ;E; R;F\r\nR=" % fmt + binary + b"\r\n"
    with pytest.raises(UnsupportedTraceFormat) as caught:
        parse(data)
    assert caught.value.line == 2 and caught.value.label == "TRCFMT"
    assert str(caught.value) == f"line 2, label TRCFMT: unsupported trace format {fmt}"
    # Data that happens to be printable is refused the same way.
    with pytest.raises(UnsupportedTraceFormat, match=f"unsupported trace format {fmt}"):
        parse(b"JOB=1\r\nTRCFMT=%d;4;E;R;F\r\nR=ABCD\r\n" % fmt)


def test_an_unknown_trace_format_number_is_refused_too():
    with pytest.raises(UnsupportedTraceFormat, match="unsupported trace format 7"):
        parse(b"TRCFMT=7;4;E;R;F\r\nR=1;2;3;4\r\n")


@pytest.mark.parametrize(
    ("data", "line", "label", "message"),
    [
        (b"", None, None, "empty file"),
        (b"JOB=1\r\nLNAM=Caf\xe9;Caf\xe9\r\n", 2, None, "non-ASCII byte 0xE9 at column 9"),
        (b"JOB=1\r\nDBL=1\x008\r\n", 2, "DBL", "control character 0x00 at column 6"),
        (b"JOB=1\rDBL=18\r\n", 1, "JOB", "carriage return without line feed"),
        (b"JOB=1\r\njust text\r\n", 2, None, "not a LABEL=value record"),
        (b"JOB=1\r\nS PH=1;1\r\n", 2, None, "a label is letters, digits and '_'"),
        (b"TRCFMT=1;4;E;R;F\r\nR=2500;25x0;2500;2500\r\n", 2, "R", "not an integer: '25x0'"),
        (b"TRCFMT=1;4;E\r\nR=2500\r\n", 1, "TRCFMT", "TRCFMT needs format;points"),
        (b"TRCFMT=1;zero;E;R;F\r\nR=1\r\n", 1, "TRCFMT", "number of points"),
        (b"TRCFMT=1;4;X;R;F\r\nR=1\r\n", 1, "TRCFMT", "angle mode must be E"),
        (b"TRCFMT=1;4;E;Q;F\r\nR=1\r\n", 1, "TRCFMT", "side must be R, L or B"),
        (b"TRCFMT=1;4;E;R;frame\r\nR=1\r\n", 1, "TRCFMT", "trace kind must be one letter"),
        (b"TRCFMT=1;4;E;R;F\r\nR=" + b"9" * 5000 + b"\r\n", 2, "R", "not an integer"),
    ],
)
def test_bad_input_names_its_line_and_label(data, line, label, message):
    with pytest.raises(OmaError) as caught:
        parse(data)
    error = caught.value
    assert (error.line, error.label) == (line, label)
    assert message in error.message
    if line is not None:
        assert str(error).startswith(f"line {line}")
    if label is not None:
        assert f"label {label}" in str(error)


def test_parse_refuses_what_is_not_bytes():
    with pytest.raises(OmaError, match="expected bytes"):
        parse("JOB=1\r\n")  # type: ignore[arg-type]


def test_a_truncated_trace_still_parses_and_keeps_what_it_has():
    radii = circle(400, 20.0)
    data = job_file(f"TRCFMT=1;400;E;R;F\r\n{r_lines(radii[:390])}")
    trace = parse(data).traces[0]
    assert trace.points == 400 and len(trace.radii) == 390  # validation reports it


def test_files_compare_by_their_records():
    assert parse(b"JOB=1\r\n") == OmaFile((Record("JOB", ("1",)),))
    assert parse(b"JOB=1\r\n") != parse(b"JOB=1\n")


def test_a_trace_record_ending_in_a_semicolon_holds_no_empty_value():
    data = b"JOB=1\r\nTRCFMT=1;4;E;R;F\r\nR=2500;2500;\r\nR=2500;2500;\r\n"
    oma = parse(data)
    assert oma.traces[0].radii == (2500,) * 4
    assert write(oma) == data


def test_errors_keep_line_and_label_through_pickling():
    # A parse run in a process pool sends its error back pickled.
    import pickle

    for data in (b"JOB=1\r\nTRCFMT=1;4;E;R;F\r\nR=1;x\r\n", b"TRCFMT=3;4;E;R;F\r\nR=\xff\r\n"):
        with pytest.raises(OmaError) as caught:
            parse(data)
        again = pickle.loads(pickle.dumps(caught.value))
        assert type(again) is type(caught.value)
        assert (again.line, again.label, str(again)) == (
            caught.value.line,
            caught.value.label,
            str(caught.value),
        )
    assert again.trace_format == "3"
