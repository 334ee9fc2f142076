"""Framing without I/O: bytes in, records out, and the rule that a late
reply never answers a later query.

A :class:`Framer` is a plain object. The transport feeds it the bytes it
receives, in pieces of any size (:meth:`~Framer.feed`), and takes records
back (:meth:`~Framer.take`) in one of three shapes:

- :class:`Until`: the bytes up to a terminator (a line);
- :class:`Exactly`: a fixed number of bytes (a binary frame's header, or
  the frame whose length the header gave);
- :class:`Block`: an IEEE 488.2 definite-length block, ``#<d><length>``
  then the data, then the read terminator if there is one.

The sync and asyncio transports share this logic and only move bytes and
keep time; its tests need no socket.

Discard after a timeout
-----------------------

A reply carries no tag: it is known only by its place. A reply that comes
after its read timed out would be read as the answer to the next query,
and every later answer would stay one behind, ping() included. So:

1. A read that gives up leaves the framer owing its record
   (:meth:`~Framer.read_timed_out`): that record is dropped as it ends,
   the part of it already received included.
2. Before each write the transport settles: while a record is owed
   (:attr:`~Framer.owes`) it waits up to one more timeout for it, then it
   feeds what has arrived already, and :meth:`~Framer.begin_exchange`
   drops all of it: records not read, and a record begun, whose rest is
   dropped when it comes (the owed record's shape, or else the
   transport's usual one: a line). Nothing received before a write can
   answer it. What is still owed and has not begun is then forgiven.
3. Nothing is dropped between a write and the reads after it: a driver
   that writes, then reads, gets its reply.

Its limits:

- A reply later than its timeout and the settling wait (two timeouts after
  its query) can still answer a later query; choose ``--timeout`` above
  the device's slowest reply.
- A query the device never answers costs the next exchange up to one
  timeout of waiting; the one after it, nothing.
- Bytes nobody asked for are dropped if they have arrived by the next
  write; bytes that come later are read as a reply.
- Pipelining (write, write, then read, read) is not possible: the second
  write drops the first reply if it has come.

Bounded
-------

The framer holds at most ``limit`` bytes. A record longer than that (a
line that does not end, a block that declares more) is discarded as it
comes, up to its end, and its reader gets :class:`FrameTooLong`. Over the
limit with no read waiting, records are dropped from the front, each to
its end (by the usual shape; without one, all that is held), until what
is held fits, and the next read gets FrameTooLong once. A read waits
behind a record still owed: only the late record's bytes are dropped. A
malformed block header is :class:`FrameError`.
"""

# An ASCII reply longer than sipyco's own line limit belongs in a block.
DEFAULT_LIMIT = 4 * 1024 * 1024


class FrameError(ValueError):
    """The device sent what the read's shape cannot be."""


class FrameTooLong(FrameError):
    """A record over the framer's limit: discarded up to its end."""


class Until:
    """A record ended by ``terminator``; the record is what precedes it."""

    def __init__(self, terminator):
        if not terminator:
            raise ValueError("a terminator cannot be empty")
        self.terminator = bytes(terminator)
        self._searched = 0  # bytes from the front known to hold none

    def end(self, buffer):
        """Where the record ends in ``buffer`` (past its terminator), or
        None if it has not ended yet."""
        found = buffer.find(self.terminator, self._searched)
        if found < 0:
            # A terminator may be cut between this piece and the next.
            self._searched = max(0, len(buffer) - len(self.terminator) + 1)
            return None
        return found + len(self.terminator)

    def body(self, record):
        return record[:-len(self.terminator)]

    def wanted(self, buffer):
        """How many more bytes end the record, if that is known."""
        return None

    def discard(self, buffer):
        """Drop the record's bytes from the front of ``buffer``; whether
        it has ended."""
        end = self.end(buffer)
        if end is not None:
            del buffer[:end]
            return True
        del buffer[:self._searched]
        self._searched = 0
        return False


class Exactly:
    """A record of ``size`` bytes."""

    def __init__(self, size):
        if size < 0:
            raise ValueError(f"cannot read {size} bytes")
        self.remaining = size

    def end(self, buffer):
        return self.remaining if len(buffer) >= self.remaining else None

    def body(self, record):
        return record

    def wanted(self, buffer):
        return self.remaining - len(buffer)

    def discard(self, buffer):
        taken = min(len(buffer), self.remaining)
        del buffer[:taken]
        self.remaining -= taken
        return self.remaining == 0


class Block:
    """An IEEE 488.2 definite-length block: ``#``, one digit ``d``, ``d``
    digits of length, the data, then ``trailer`` (the read terminator; a
    \r before a \n trailer is taken too, as read_line() takes it)."""

    def __init__(self, trailer=b"", limit=DEFAULT_LIMIT):
        self.trailer = bytes(trailer)
        self.limit = limit
        self._start = None  # where the data starts, once the header came
        self._rest = None  # an Exactly for what follows the header
        self._data_end = None
        self._carriage = 0  # 1 once a \r is seen before a \n trailer

    def _header(self, buffer):
        """Parse the header once it has come; whether it has."""
        if self._start is not None:
            return True
        if len(buffer) < 2:
            return False
        if buffer[:1] != b"#" or not buffer[1:2].isdigit():
            raise FrameError(f"not an IEEE 488.2 block: "
                             f"{bytes(buffer[:12])!r}")
        digits = buffer[1] - ord("0")
        if digits == 0:
            raise FrameError("an indefinite-length block (#0) has no "
                             "length to read by")
        if len(buffer) < 2 + digits:
            return False
        length = bytes(buffer[2:2 + digits])
        if not length.isdigit():
            raise FrameError(f"not an IEEE 488.2 block length: {length!r}")
        if int(length) > self.limit:
            self._start = 0
            self._data_end = 2 + digits + int(length)
            self._rest = Exactly(self._data_end + len(self.trailer))
            raise FrameTooLong(f"the device sent a block of {int(length)} "
                               f"bytes, over the limit of {self.limit}")
        self._start = 2 + digits
        self._data_end = self._start + int(length)
        self._rest = Exactly(self._data_end + len(self.trailer))
        return True

    def end(self, buffer):
        if not self._header(buffer):
            return None
        if self.trailer == b"\n" and not self._carriage and \
                buffer[self._data_end:self._data_end + 1] == b"\r":
            self._carriage = 1
            self._rest = Exactly(self._rest.remaining + 1)
        end = self._rest.end(buffer)
        if end is not None and self.trailer and \
                buffer[end - len(self.trailer):end] != self.trailer:
            raise FrameError(f"the block is not followed by "
                             f"{self.trailer!r}")
        return end

    def body(self, record):
        return record[self._start:
                      len(record) - len(self.trailer) - self._carriage]

    def wanted(self, buffer):
        if self._start is None:
            return max(1, 2 - len(buffer))
        return self._rest.wanted(buffer)

    def discard(self, buffer):
        try:
            if not self._header(buffer):
                return False  # the header's first bytes, kept to parse it
        except FrameTooLong:
            pass
        except FrameError:
            buffer.clear()  # no block after all: nothing to go by
            return True
        return self._rest.discard(buffer)


class Framer:
    """Records taken from the bytes fed, holding at most ``limit`` bytes.

    ``usual``: a function making the shape of the device's usual record
    (``lambda: Until(b"\\n")`` for lines), by which a record begun before
    a write is dropped to its end; None drops only what has come.
    """

    def __init__(self, limit=DEFAULT_LIMIT, usual=None):
        if limit < 1:
            raise ValueError(f"a limit of {limit} bytes leaves no room")
        self.limit = limit
        self.usual = usual
        self._buffer = bytearray()
        self._reading = None  # the shape of the read waiting for bytes
        self._owed = []  # shapes of reads that gave up, oldest first
        self._dropping = None  # the shape whose rest is dropped as it comes
        self._overflowed = False  # bytes nobody read were discarded
        self._dropped = 0  # records dropped since the last exchange began

    @property
    def buffered(self):
        """The bytes held."""
        return len(self._buffer)

    @property
    def in_progress(self):
        """What has come of the record being read (for error messages)."""
        return bytes(self._buffer[:80])

    @property
    def owes(self):
        """Whether a read gave up on a record that may still come."""
        return bool(self._owed)

    def feed(self, data):
        """Take bytes received, in a piece of any size."""
        self._buffer += data
        if self._dropping is not None and \
                self._dropping.discard(self._buffer):
            self._dropping = None
        if self._dropping is None:
            self._drop_owed()
        if len(self._buffer) > self.limit:
            self._overflow()

    def take(self, shape):
        """The next record, in ``shape`` (the same shape object until it
        returns one), without its framing; None if it has not all come.
        Raises FrameTooLong where bytes were discarded, FrameError for a
        malformed record."""
        if self._overflowed:
            self._overflowed = False
            raise FrameTooLong(f"the device sent more than {self.limit} "
                               f"bytes that could not be kept: discarded")
        if self._dropping is not None or self._owed:
            # The bytes at the front are an earlier record's: a read
            # looks only once they are gone (a shape keeps where it is).
            self._reading = shape
            return None
        self._reading = None
        try:
            end = shape.end(self._buffer)
        except FrameTooLong:
            self._drop(shape)
            raise
        except FrameError:
            self._buffer.clear()  # nothing in it can be trusted
            raise
        if end is None:
            self._reading = shape
            return None
        record = bytes(self._buffer[:end])
        del self._buffer[:end]
        return shape.body(record)

    def wanted(self, shape):
        """How many more bytes end ``shape``'s record, if that is known."""
        return shape.wanted(self._buffer)

    def read_timed_out(self):
        """The read waiting gave up: its record is dropped when it ends."""
        if self._reading is not None:
            self._owed.append(self._reading)
            self._reading = None

    def begin_exchange(self):
        """Before a write: drop what came for earlier exchanges, forgive
        what never came. Returns the number of records dropped since the
        last exchange began."""
        self._reading = None
        self._overflowed = False
        if self._owed and self._buffer and self._dropping is None:
            self._drop(self._owed[0])  # a late reply, begun: to its end
        elif self._dropping is None:
            self._drop_usual()
        self._owed.clear()
        dropped, self._dropped = self._dropped, 0
        return dropped

    def _drop(self, shape):
        """Drop ``shape``'s record from the front, now and as it comes."""
        self._dropped += 1
        self._dropping = None if shape.discard(self._buffer) else shape

    def _drop_owed(self):
        while self._owed and self._buffer:
            try:
                end = self._owed[0].end(self._buffer)
            except FrameTooLong:
                self._drop(self._owed.pop(0))
                return
            except FrameError:
                self._owed.pop(0)
                self._dropped += 1
                self._buffer.clear()
                return
            if end is None:
                return
            del self._buffer[:end]
            self._owed.pop(0)
            self._dropped += 1

    def _drop_usual(self):
        """Drop what has come: whole records, and one begun to its end."""
        while self._buffer:
            self._dropped += 1
            shape = self.usual() if self.usual else None
            if shape is None:
                self._buffer.clear()
            elif not shape.discard(self._buffer):
                self._dropping = shape  # what it kept: a cut terminator
                return

    def _overflow(self):
        """Over the limit: records are dropped from the front until what
        is held fits. An owed record first (its bytes are the front's),
        then the one being read (its reader gets FrameTooLong), then
        records nobody waits for, each to its end (the next read gets
        FrameTooLong), so that what comes after them is read."""
        while len(self._buffer) > self.limit and self._dropping is None:
            if self._owed:
                self._drop(self._owed.pop(0))
                continue
            self._overflowed = True
            if self._reading is not None:
                shape, self._reading = self._reading, None
            elif self.usual is not None:
                shape = self.usual()
            else:
                self._dropped += 1
                self._buffer.clear()  # no shape to find an end by
                return
            self._drop(shape)
