"""The runtime's sans-I/O framing (ndsp_runtime/framing.py), in process:
bytes in, records out in three shapes (a line, a fixed size, an IEEE
488.2 block), the bound, and the discard-after-timeout rule. The
transports' own I/O is test_transports.py's."""

import sys

import pytest
from hypothesis import given, settings, strategies as st

from conftest import TEMPLATE

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.device_name}}"
                       / "{{cookiecutter.device_name}}"))

from ndsp_runtime.framing import (  # noqa: E402
    Block, Exactly, FrameError, Framer, FrameTooLong, Until)

TERMINATORS = st.sampled_from([b"\n", b"\r\n", b"\r", b";;"])


def lines():
    """The usual record of a line device."""
    return Until(b"\n")


def line_framer(limit=1000):
    return Framer(limit, usual=lines)


def take_all(framer, shape=lines):
    """Every record the framer holds now, in order, each read in a fresh
    ``shape()``."""
    records = []
    while (record := framer.take(shape())) is not None:
        records.append(record)
    return records


def split(data, cuts):
    """``data`` in pieces, cut at the positions ``cuts``."""
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)])]


def block(data, trailer=b"\n"):
    length = str(len(data)).encode()
    return b"#" + str(len(length)).encode() + length + data + trailer


def read(framer, shape, pieces):
    """Take one record in ``shape`` while feeding ``pieces`` one by one, as
    a transport does (``pieces``, a list, loses those fed): None if it
    has not come whole."""
    while (record := framer.take(shape)) is None and pieces:
        framer.feed(pieces.pop(0))
    return record


# --- records from any split of the stream ---

@given(st.lists(st.binary(max_size=20), max_size=8), TERMINATORS,
       st.lists(st.integers(0, 10_000)))
def test_any_split_of_the_stream_gives_the_same_lines(bodies, terminator,
                                                      cuts):
    bodies = [bytes(byte for byte in body if byte not in terminator)
              for body in bodies]
    stream = b"".join(body + terminator for body in bodies)
    framer = Framer(1000)
    for piece in split(stream, cuts):
        framer.feed(piece)
    assert take_all(framer, lambda: Until(terminator)) == bodies
    assert framer.buffered == 0


@given(st.lists(st.binary(max_size=20), max_size=8), TERMINATORS,
       st.lists(st.integers(0, 10_000)))
def test_a_line_read_while_it_comes_is_the_same_however_it_is_cut(
        bodies, terminator, cuts):
    """The reader waits with one shape object while pieces come (its
    search resumes where the last piece ended)."""
    bodies = [bytes(byte for byte in body if byte not in terminator)
              for body in bodies]
    pieces = split(b"".join(body + terminator for body in bodies), cuts)
    framer = Framer(1000)
    got = []
    for _ in bodies:
        got.append(read(framer, Until(terminator), pieces))
        pieces = [] if got[-1] is None else pieces
    assert got == bodies


@given(st.lists(st.binary(max_size=30), max_size=6),
       st.lists(st.integers(0, 10_000)))
def test_any_split_gives_the_same_fixed_size_frames(bodies, cuts):
    """A length-prefixed protocol: a one-byte length, then the frame."""
    stream = b"".join(bytes([len(body)]) + body for body in bodies)
    pieces = split(stream, cuts)
    framer = Framer(1000)
    got = []
    for _ in bodies:
        size = read(framer, Exactly(1), pieces)
        got.append(read(framer, Exactly(size[0]), pieces))
    assert got == bodies
    assert framer.buffered == 0


@given(st.lists(st.binary(max_size=300), max_size=4),
       st.sampled_from([b"", b"\n", b"\r\n"]),
       st.lists(st.integers(0, 10_000)))
def test_any_split_gives_the_same_blocks(datas, trailer, cuts):
    """Block data may hold any byte, the trailer's included."""
    pieces = split(b"".join(block(data, trailer) for data in datas), cuts)
    framer = Framer(1000)
    got = [read(framer, Block(trailer), pieces) for _ in datas]
    assert got == datas
    assert framer.buffered == 0


def test_a_block_header_of_several_digits():
    framer = Framer()
    framer.feed(b"#3012" + b"x" * 12 + b"\n" + b"#11y\n")
    assert framer.take(Block(b"\n")) == b"x" * 12
    assert framer.take(Block(b"\n")) == b"y"


def test_a_carriage_return_before_a_blocks_line_end_is_taken_with_it():
    """As read_line() drops a \r before \n: the devices that end lines in
    \r\n end their blocks so, read with "\n" as the read termination."""
    framer = Framer()
    framer.feed(b"#13a\rc\r\n#11y\n")
    assert framer.take(Block(b"\n")) == b"a\rc"
    assert framer.take(Block(b"\n")) == b"y"
    assert framer.buffered == 0


def test_an_empty_block():
    framer = Framer()
    framer.feed(b"#10\nnext\n")
    assert framer.take(Block(b"\n")) == b""
    assert framer.take(lines()) == b"next"


def test_a_record_in_progress_waits_for_its_end():
    framer = Framer()
    shape = lines()
    framer.feed(b"ndsp-")
    assert framer.take(shape) is None
    assert framer.in_progress == b"ndsp-"
    framer.feed(b"template\nnext")
    assert framer.take(shape) == b"ndsp-template"
    assert framer.take(lines()) is None


def test_wanted_says_how_many_bytes_end_a_fixed_size_record():
    framer = Framer()
    framer.feed(b"abc")
    assert framer.wanted(Exactly(10)) == 7
    assert framer.wanted(lines()) is None
    framer = Framer()
    framer.feed(b"#14ab")
    shape = Block(b"\n")
    assert framer.take(shape) is None
    assert framer.wanted(shape) == 3  # two bytes of data, the trailer


def test_exactly_zero_bytes_is_an_empty_record():
    framer = Framer()
    assert framer.take(Exactly(0)) == b""


@pytest.mark.parametrize("make", [lambda: Until(b""), lambda: Exactly(-1),
                                  lambda: Framer(0)])
def test_a_shape_needs_a_terminator_or_a_size_and_a_framer_room(make):
    with pytest.raises(ValueError):
        make()


# --- malformed blocks ---

@pytest.mark.parametrize("stream, message", [
    (b"12345\n", "not an IEEE 488.2 block"),
    (b"#x12\n", "not an IEEE 488.2 block"),
    (b"#0data\n", "indefinite-length"),
    (b"#3a12xyz\n", "block length"),
    (b"#12abc", "not followed by"),
])
def test_a_malformed_block_is_a_frame_error(stream, message):
    framer = Framer()
    framer.feed(stream)
    with pytest.raises(FrameError, match=message):
        framer.take(Block(b"\n"))
    framer.feed(b"#11z\n")  # what came after the error is read
    assert framer.take(Block(b"\n")) == b"z"


def test_a_malformed_header_is_an_error_as_soon_as_it_comes():
    framer = Framer()
    shape = Block(b"\n")
    framer.feed(b"#")
    assert framer.take(shape) is None
    framer.feed(b"Q")
    with pytest.raises(FrameError):
        framer.take(shape)


# --- the bound ---

@settings(max_examples=200)
@given(st.lists(st.tuples(st.sampled_from(["feed", "line", "exactly",
                                           "block", "timeout", "exchange"]),
                          st.binary(max_size=300)), max_size=40),
       st.integers(2, 300))
def test_the_framer_never_holds_more_than_its_limit(steps, limit):
    """Whatever comes and whatever is read, timed out or exchanged."""
    framer = Framer(limit, usual=lines)
    shapes = {"line": lines, "exactly": lambda: Exactly(limit // 2),
              "block": lambda: Block(b"\n", limit)}
    shape = None
    for step, data in steps:
        if step == "feed":
            framer.feed(data)
            framer.feed(b"#" + str(len(str(len(data)))).encode()
                        + str(len(data)).encode() + data)
        elif step == "timeout":
            framer.read_timed_out()
            shape = None
        elif step == "exchange":
            framer.begin_exchange()
            shape = None
        else:
            shape = shape or shapes[step]()
            try:
                if framer.take(shape) is not None:
                    shape = None
            except FrameError:
                shape = None
        assert framer.buffered <= limit


@pytest.mark.parametrize("reading", [True, False])
def test_a_line_over_the_limit_is_an_error_and_discarded_to_its_end(
        reading):
    """Whether a read waits for it or not."""
    framer = line_framer(limit=200)
    shape = lines()
    if reading:
        assert framer.take(shape) is None
    framer.feed(b"x" * 150)
    framer.feed(b"x" * 150)  # over: what came is discarded
    assert framer.buffered < 200
    framer.feed(b"x" * 1000)  # still that line: discarded as it comes
    assert framer.buffered < 200
    with pytest.raises(FrameTooLong, match="200 bytes"):
        framer.take(shape)
    framer.feed(b"xx\nnext\n")
    assert framer.take(lines()) == b"next"
    assert framer.take(lines()) is None


def test_a_line_over_the_limit_is_one_error():
    framer = line_framer(limit=100)
    framer.feed(b"x" * 200 + b"\n" + b"y" * 200 + b"\nok\n")
    with pytest.raises(FrameTooLong):
        framer.take(lines())
    assert take_all(framer) == [b"ok"]


def test_lines_nobody_reads_are_bounded_and_an_error_takes_their_place():
    framer = line_framer(limit=1000)
    framer.feed(b"\n" * 100_000)  # empty lines cost room too
    assert framer.buffered <= 1000
    with pytest.raises(FrameTooLong):
        framer.take(lines())
    kept = take_all(framer)  # the last ones, that fit
    assert kept and set(kept) == {b""}
    framer.feed(b"after\n")
    assert framer.take(lines()) == b"after"


def test_a_block_declaring_more_than_the_limit_is_discarded_to_its_end():
    framer = Framer(limit=100)
    shape = Block(b"\n", limit=100)
    framer.feed(b"#3500" + b"x" * 50)
    with pytest.raises(FrameTooLong, match="500 bytes"):
        framer.take(shape)
    assert framer.buffered == 0
    framer.feed(b"x" * 300)
    assert framer.buffered == 0
    framer.feed(b"x" * 150 + b"\n" + b"#12ok\n")  # its end, then the next
    assert framer.take(Block(b"\n", limit=100)) == b"ok"


def test_a_block_whose_data_overflows_the_framer_is_discarded_whole():
    framer = Framer(limit=100)
    shape = Block(b"\n")  # its own limit is larger than the framer's
    assert framer.take(shape) is None
    framer.feed(b"#3150" + b"x" * 120)
    with pytest.raises(FrameTooLong):
        framer.take(shape)
    framer.feed(b"x" * 30 + b"\n" + b"#12ok\n")
    assert framer.take(Block(b"\n")) == b"ok"


# --- discard after a timeout ---

def test_a_late_line_is_dropped_and_the_next_read_gets_its_own():
    framer = line_framer()
    assert framer.take(lines()) is None
    framer.read_timed_out()
    assert read(framer, lines(), [b"la", b"te\nri", b"ght\n"]) == b"right"


def test_a_late_fixed_size_record_is_dropped():
    framer = Framer()
    assert framer.take(Exactly(4)) is None
    framer.read_timed_out()
    assert read(framer, Exactly(4), [b"la", b"te", b"next"]) == b"next"


def test_a_late_block_is_dropped():
    framer = Framer()
    assert framer.take(Block(b"\n")) is None
    framer.read_timed_out()
    stream = block(b"late") + block(b"right")
    assert read(framer, Block(b"\n"), split(stream, [3, 7, 12])) == b"right"


@pytest.mark.parametrize("owed, rest", [
    (lines, b"template\n"),
    (lambda: Exactly(13), b"template"),
    (lambda: Block(b"\n"), b"template\n"),
])
def test_a_record_cut_by_the_timeout_is_dropped_whole(owed, rest):
    framer = line_framer()
    shape = owed()
    start = b"#213ndsp-" if isinstance(shape, Block) else b"ndsp-"
    assert framer.take(shape) is None
    framer.feed(start)
    assert framer.take(shape) is None
    framer.read_timed_out()
    framer.feed(rest)
    assert not framer.owes
    assert framer.take(lines()) is None
    framer.feed(b"20.000\n")
    assert framer.take(lines()) == b"20.000"


def test_a_record_cut_by_the_timeout_is_not_read_by_another_shape():
    """A fixed-size record cut short holds a byte that ends a line: the
    next read, a line, does not take it."""
    framer = Framer()
    assert framer.take(Exactly(8)) is None
    framer.feed(b"ab\ncd")
    framer.read_timed_out()
    assert read(framer, lines(), [b"efg", b"20.000\n"]) == b"20.000"


def test_a_read_after_a_timeout_finds_its_line_behind_the_late_one():
    """The late line ends in a later piece than its start, and the next
    line is shorter than what had come of it."""
    framer = Framer()
    assert framer.take(lines()) is None
    framer.feed(b"late-reply")
    framer.read_timed_out()
    shape = lines()
    assert framer.take(shape) is None
    framer.feed(b"\nab\n")
    assert framer.take(shape) == b"ab"


def test_several_timeouts_owe_as_many_records():
    framer = Framer()
    for _ in range(2):
        assert framer.take(lines()) is None
        framer.read_timed_out()
    framer.feed(b"first\nsecond\nthird\n")
    assert take_all(framer) == [b"third"]


def test_several_timeouts_of_different_shapes_owe_each_its_own():
    framer = Framer()
    for shape in (Exactly(3), lines(), Block()):
        assert framer.take(shape) is None
        framer.read_timed_out()
    framer.feed(b"abc" + b"a line\n" + block(b"xyz", b"") + b"mine\n")
    assert take_all(framer) == [b"mine"]


def test_an_exchange_drops_what_came_before_it():
    """Nothing received before a write can answer it: lines waiting
    unread, and the rest of a line already begun."""
    framer = line_framer()
    framer.feed(b"stray\nanother\nhalf of a")
    assert framer.begin_exchange() == 3
    framer.feed(b" stray line\n20.000\n")
    assert take_all(framer) == [b"20.000"]


def test_an_exchange_drops_the_rest_of_an_owed_record_by_its_shape():
    """The owed record's shape, not the usual line, says where it ends:
    a block whose data holds a line end."""
    framer = line_framer()
    shape = Block(b"\n")
    assert framer.take(shape) is None
    framer.feed(b"#210ab\n")
    framer.read_timed_out()
    assert framer.begin_exchange() == 1
    framer.feed(b"cdefgh\n" + b"\n" + b"20.000\n")  # its data, trailer
    assert take_all(framer) == [b"20.000"]


def test_an_owed_block_whose_header_was_cut_is_dropped_by_its_header():
    framer = line_framer()
    shape = Block(b"\n")
    assert framer.take(shape) is None
    framer.feed(b"#")
    framer.read_timed_out()
    framer.begin_exchange()
    framer.feed(b"213ndsp-")
    framer.feed(b"template\n20.000\n")
    assert take_all(framer) == [b"20.000"]


def test_an_owed_block_that_turns_out_malformed_is_dropped_with_its_bytes():
    framer = line_framer()
    assert framer.take(Block(b"\n")) is None
    framer.feed(b"#")
    framer.read_timed_out()
    framer.begin_exchange()
    framer.feed(b"Q garbage\n")  # no block: nothing to go by
    framer.feed(b"20.000\n")
    assert take_all(framer) == [b"20.000"]


def test_without_a_usual_shape_an_exchange_drops_what_has_come():
    framer = Framer()
    framer.feed(b"\x01\x02\x03")
    assert framer.begin_exchange() == 1
    assert framer.buffered == 0
    framer.feed(b"\x04")
    assert framer.take(Exactly(1)) == b"\x04"


def test_an_exchange_forgives_a_record_that_never_came():
    """A device that never answers a query (an unknown SCPI query) costs
    that exchange only: once the next one begins nothing is owed."""
    framer = line_framer()
    assert framer.take(Exactly(2)) is None
    framer.read_timed_out()
    assert framer.begin_exchange() == 0
    assert not framer.owes
    framer.feed(b"20.000\n")
    assert framer.take(lines()) == b"20.000"


def test_nothing_is_dropped_between_a_write_and_its_reads():
    framer = line_framer()
    framer.begin_exchange()
    framer.feed(b"first\nsecond\n" + block(b"third") + b"four")
    assert framer.take(lines()) == b"first"
    assert framer.take(lines()) == b"second"
    assert framer.take(Block(b"\n")) == b"third"
    assert framer.take(Exactly(4)) == b"four"


def test_begin_exchange_counts_the_records_dropped_since_the_last():
    framer = line_framer()
    assert framer.take(lines()) is None
    framer.read_timed_out()
    framer.feed(b"late\nstray\n")
    assert framer.begin_exchange() == 2
    assert framer.begin_exchange() == 0


def test_an_owed_record_over_the_limit_is_dropped_without_an_error():
    framer = line_framer(limit=100)
    assert framer.take(lines()) is None
    framer.read_timed_out()
    framer.feed(b"x" * 200 + b"\nok\n")
    assert take_all(framer) == [b"ok"]


def test_a_read_waiting_behind_an_owed_record_over_the_limit_gets_no_error():
    """The record too long is the late one; the read's own comes after."""
    framer = line_framer(limit=100)
    assert framer.take(lines()) is None
    framer.read_timed_out()
    shape = lines()
    assert framer.take(shape) is None
    framer.feed(b"x" * 200)
    assert framer.take(shape) is None
    framer.feed(b"\nok\n")
    assert framer.take(shape) == b"ok"


@given(st.lists(st.binary(max_size=12).map(
           lambda body: body.replace(b"\n", b"")), min_size=1, max_size=6),
       st.lists(st.integers(0, 500)), st.integers(0, 3))
def test_an_exchange_reads_only_its_own_replies(stale, cuts, owed):
    """Whatever arrived before, however it was cut, and however many
    timeouts: after begin_exchange, the replies to this exchange alone."""
    framer = line_framer()
    stream = b"\n".join(stale) + b"unfinished"
    for _ in range(owed):
        framer.take(lines())
        framer.read_timed_out()
    for piece in split(stream, cuts):
        framer.feed(piece)
    framer.begin_exchange()
    framer.feed(b"rest of it\n")  # the unfinished line ends
    for piece in split(b"reply\nsecond\n", cuts):
        framer.feed(piece)
    assert take_all(framer) == [b"reply", b"second"]
