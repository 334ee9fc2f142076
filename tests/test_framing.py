"""The runtime's sans-I/O line framing (ndsp_runtime/framing.py), in
process: bytes in, lines out, the bound, and the discard-after-timeout
rule."""

import pathlib
import sys

import pytest
from hypothesis import given, strategies as st

PACKAGE = (pathlib.Path(__file__).resolve().parent.parent
           / "{{cookiecutter.device_name}}" / "{{cookiecutter.device_name}}")
sys.path.insert(0, str(PACKAGE))
from ndsp_runtime.framing import LineFramer, LineTooLong  # noqa: E402

TERMINATORS = st.sampled_from([b"\n", b"\r\n", b"\r", b";;"])


def lines_of(framer):
    """Every line the framer holds now, in order."""
    lines = []
    while (line := framer.read_line()) is not None:
        lines.append(line)
    return lines


def split(data, cuts):
    """``data`` in pieces, cut at the positions ``cuts``."""
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


line_bodies = st.lists(st.binary(max_size=20), max_size=8)


@given(line_bodies, TERMINATORS, st.lists(st.integers(0, 10_000)))
def test_any_split_of_the_stream_gives_the_same_lines(bodies, terminator,
                                                      cuts):
    bodies = [bytes(byte for byte in body if byte not in terminator)
              for body in bodies]
    stream = b"".join(body + terminator for body in bodies)
    framer = LineFramer(terminator)
    for piece in split(stream, cuts):
        framer.feed(piece)
    expected = [body[:-1] if terminator == b"\n" and body.endswith(b"\r")
                else body for body in bodies]
    assert lines_of(framer) == expected
    assert framer.buffered == 0


def test_a_carriage_return_before_the_line_end_is_dropped():
    framer = LineFramer()
    framer.feed(b"1.000\r\n2.000\n3.000\r\r\n")
    assert lines_of(framer) == [b"1.000", b"2.000", b"3.000\r"]


def test_a_line_in_progress_waits_for_its_end():
    framer = LineFramer()
    framer.feed(b"ndsp-")
    assert framer.read_line() is None
    assert framer.in_progress == b"ndsp-"
    framer.feed(b"template\nnext")
    assert framer.read_line() == b"ndsp-template"
    assert framer.read_line() is None


def test_frame_adds_the_terminator_and_refuses_one_inside():
    framer = LineFramer(b"\r\n")
    assert framer.frame(b"VOLT 1.000") == b"VOLT 1.000\r\n"
    with pytest.raises(ValueError, match="two lines"):
        framer.frame(b"VOLT 1\r\n*RST")


@pytest.mark.parametrize("terminator, limit",
                         [(b"", 10), (b"\n", 0), (b"\r\n", 1)])
def test_a_framer_needs_a_terminator_and_room(terminator, limit):
    with pytest.raises(ValueError):
        LineFramer(terminator, limit=limit)


# --- the bound ---

@given(st.lists(st.binary(max_size=300), max_size=30),
       st.integers(2, 300), TERMINATORS)
def test_the_framer_never_holds_more_than_its_limit(pieces, limit,
                                                    terminator):
    framer = LineFramer(terminator, limit=limit)
    for piece in pieces:
        framer.feed(piece)
        assert framer.buffered <= limit


def test_a_line_over_the_limit_is_an_error_and_discarded_to_its_end():
    framer = LineFramer(limit=200)
    framer.feed(b"x" * 150)
    framer.feed(b"x" * 150)  # over: what came is discarded
    assert framer.buffered < 200
    framer.feed(b"x" * 1000)  # still that line: discarded as it comes
    assert framer.buffered < 200
    framer.feed(b"xx\nnext\n")
    with pytest.raises(LineTooLong, match="more than 200 bytes"):
        framer.read_line()
    assert framer.read_line() == b"next"
    assert framer.read_line() is None


def test_lines_nobody_reads_are_bounded_and_an_error_takes_their_place():
    framer = LineFramer(limit=1000)
    framer.feed(b"\n" * 100_000)  # empty lines cost room too
    assert framer.buffered <= 1000
    lines = []
    with pytest.raises(LineTooLong):
        while True:
            lines.append(framer.read_line())
    assert lines and set(lines) == {b""}
    framer.feed(b"after\n")
    assert framer.read_line() == b"after"


def test_two_discarded_lines_in_a_row_are_one_error():
    framer = LineFramer(limit=100)
    framer.feed(b"x" * 200 + b"\n" + b"y" * 200 + b"\nok\n")
    with pytest.raises(LineTooLong):
        framer.read_line()
    assert framer.read_line() == b"ok"


# --- discard after a timeout ---

def test_a_late_line_is_dropped_when_it_comes():
    framer = LineFramer()
    framer.read_timed_out()
    assert framer.owes
    framer.feed(b"late\nright\n")
    assert not framer.owes
    assert framer.read_line() == b"right"


def test_a_line_cut_by_the_timeout_is_dropped_whole():
    framer = LineFramer()
    framer.feed(b"ndsp-")
    framer.read_timed_out()
    framer.feed(b"template\n")
    assert not framer.owes
    assert framer.read_line() is None
    framer.feed(b"20.000\n")
    assert framer.read_line() == b"20.000"


def test_several_timeouts_owe_as_many_lines():
    framer = LineFramer()
    framer.read_timed_out()
    framer.read_timed_out()
    framer.feed(b"first\nsecond\nthird\n")
    assert lines_of(framer) == [b"third"]


def test_an_exchange_drops_what_came_before_it():
    """Nothing received before a write can answer it: lines waiting
    unread, and the rest of a line already begun."""
    framer = LineFramer()
    framer.feed(b"stray\nanother\nhalf of a")
    assert framer.begin_exchange() == 3
    framer.feed(b" stray line\n20.000\n")
    assert lines_of(framer) == [b"20.000"]


def test_an_exchange_forgives_a_line_that_never_came():
    """A device that never answers a query (an unknown SCPI query) costs
    that exchange only: once the next one begins nothing is owed."""
    framer = LineFramer()
    framer.read_timed_out()
    assert framer.begin_exchange() == 0
    assert not framer.owes
    framer.feed(b"20.000\n")
    assert framer.read_line() == b"20.000"


def test_nothing_is_dropped_between_a_write_and_its_reads():
    framer = LineFramer()
    framer.begin_exchange()
    framer.feed(b"first\nsecond\n")
    assert lines_of(framer) == [b"first", b"second"]


def test_begin_exchange_counts_the_lines_dropped_since_the_last():
    framer = LineFramer()
    framer.read_timed_out()
    framer.feed(b"late\nstray\n")
    assert framer.begin_exchange() == 2
    assert framer.begin_exchange() == 0


def test_an_owed_line_over_the_limit_is_dropped_without_an_error():
    framer = LineFramer(limit=100)
    framer.read_timed_out()
    framer.feed(b"x" * 200 + b"\nok\n")
    assert lines_of(framer) == [b"ok"]


@given(st.lists(st.binary(max_size=12).map(
           lambda body: body.replace(b"\n", b"")), min_size=1, max_size=6),
       st.lists(st.integers(0, 500)), st.integers(0, 3))
def test_an_exchange_reads_only_its_own_replies(stale, cuts, owed):
    """Whatever arrived before, however it was cut, and however many
    timeouts: after begin_exchange, the replies to this exchange alone."""
    framer = LineFramer()
    stream = b"\n".join(stale) + b"unfinished"
    for _ in range(owed):
        framer.read_timed_out()
    for piece in split(stream, cuts):
        framer.feed(piece)
    framer.begin_exchange()
    framer.feed(b"rest of it\n")  # the unfinished line ends
    for piece in split(b"reply\nsecond\n", cuts):
        framer.feed(piece)
    assert lines_of(framer) == [b"reply", b"second"]
