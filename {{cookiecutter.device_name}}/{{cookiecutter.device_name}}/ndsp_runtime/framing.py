"""Line framing without I/O: bytes in, lines out, and the rule that a late
reply never answers a later query.

A :class:`LineFramer` is a plain object. The transport feeds it the bytes
it receives, in pieces of any size (:meth:`~LineFramer.feed`), and takes
whole lines back (:meth:`~LineFramer.read_line`); it frames what it sends
with :meth:`~LineFramer.frame`. The sync and the asyncio transports share
it and only move bytes and keep time, so one logic serves both, and its
tests need no socket.

Discard after a timeout
-----------------------

A line protocol carries no tag: a reply is known only by its place. A
reply that comes after its query timed out would be read as the answer
to the next query, and every later answer would stay one behind, ping()
included. So:

1. A read that gives up (it timed out, or was cancelled) leaves the framer
   owing one line (:meth:`~LineFramer.read_timed_out`): the next line to
   end is dropped as it ends, the part of it already received included.
2. Before each write the transport settles: while a line is owed
   (:attr:`~LineFramer.owes`) it waits up to one more timeout for it,
   then it feeds what has arrived already, and
   :meth:`~LineFramer.begin_exchange` drops all of it: lines not read,
   and a line begun, whose rest is dropped when it comes. Nothing received
   before a write can answer it. What is still owed is then forgiven.
3. Nothing is dropped between a write and the reads after it: a driver
   that calls write_line, then read_line, gets its reply.

Its limits:

- A reply later than its timeout and the settling wait (two timeouts
  after its query) can still answer a later query; choose ``--timeout``
  above the device's slowest reply.
- A query the device never answers (SCPI instruments do not answer an
  unknown query) costs the next exchange up to one timeout of waiting;
  the one after it, nothing.
- A line nobody asked for (an unsolicited message, or a reply to a command
  the driver expects none for) is dropped if it has arrived by the next
  write; one that comes later is read as a reply. So a write_line whose
  command does answer needs a read_line.
- Pipelining (write, write, then read, read) is not possible: the second
  write drops the first reply if it has come.
- If the device never finishes a line cut by a timeout, its next line
  ends it and is dropped with it.

Bounded
-------

The framer holds at most ``limit`` bytes (:attr:`~LineFramer.buffered`,
each waiting line counted with its overhead). A line longer than that,
or a line for which lines nobody reads leave no room, is discarded as it
comes, up to its end; its reader gets :class:`LineTooLong` in its place
(once for lines discarded in a row).
"""

import collections

# An ASCII reply longer than sipyco's own line limit belongs in a binary
# block.
DEFAULT_LIMIT = 4 * 1024 * 1024
# What a waiting line costs beyond its bytes (a bytes object and its
# place in the queue), so that a flood of empty lines is bounded too.
LINE_OVERHEAD = 64
# Stands for lines discarded in a row, where they would have been read.
_DISCARDED = object()


class LineTooLong(ValueError):
    """A line over the framer's limit, or with no room left: discarded."""


class LineFramer:
    """Lines ended by ``terminator`` (a \\r before a \\n line end is dropped
    too), holding at most ``limit`` bytes."""

    def __init__(self, terminator=b"\n", limit=DEFAULT_LIMIT):
        if not terminator:
            raise ValueError("a line terminator cannot be empty")
        if limit < len(terminator):
            raise ValueError(f"a limit of {limit} bytes leaves no room for "
                             f"a line")
        self.terminator = bytes(terminator)
        self.limit = limit
        # Room for lines: the rest may hold a terminator cut in two.
        self._room = limit - len(terminator) + 1
        self._lines = collections.deque()  # bytes, or _DISCARDED
        self._held = 0  # what the lines in _lines cost
        self._partial = bytearray()  # the line in progress
        self._searched = 0  # bytes of _partial holding no terminator
        self._owed = 0  # lines to drop as they end (late replies)
        self._dropping = False  # the line in progress is dropped
        self._dropped = 0  # lines dropped since the last exchange began

    @property
    def buffered(self):
        """The bytes held: lines not read and the line in progress."""
        return self._held + len(self._partial)

    @property
    def in_progress(self):
        """What has come of the line in progress (for error messages)."""
        return b"" if self._dropping else bytes(self._partial)

    @property
    def owes(self):
        """Whether a read gave up on a line that may still come."""
        return self._owed > 0

    def frame(self, line):
        """``line`` as sent: with its terminator."""
        if self.terminator in line:
            raise ValueError(f"{bytes(line)!r} holds the line end "
                             f"{self.terminator!r}: it would be sent as "
                             f"two lines, and get two replies")
        return bytes(line) + self.terminator

    def feed(self, data):
        """Take bytes received, in a piece of any size."""
        partial, size = self._partial, len(self.terminator)
        partial += data
        start = 0
        while (end := partial.find(self.terminator,
                                   max(start, self._searched))) >= 0:
            self._line_ended(bytes(partial[start:end]))
            start = end + size
        del partial[:start]
        # A terminator may be cut between this piece and the next.
        self._searched = max(0, len(partial) - size + 1)
        if self._dropping:
            self._keep_only_a_cut_terminator()
        elif self.buffered > self.limit:
            self._discard_in_progress()

    def read_line(self):
        """The next line, without its terminator; None if there is none
        yet. Raises LineTooLong where lines were discarded."""
        if not self._lines:
            return None
        line = self._lines.popleft()
        if line is _DISCARDED:
            raise LineTooLong(f"the device sent more than {self.limit} "
                              f"bytes that could not be kept (a line too "
                              f"long, or lines nobody read): discarded")
        self._held -= len(line) + LINE_OVERHEAD
        return line

    def read_timed_out(self):
        """A read gave up: the line it waited for is dropped if it comes."""
        self._owed += 1

    def begin_exchange(self):
        """Before a write: drop what came for earlier exchanges, forgive
        what never came. Returns the number of lines dropped since the
        last exchange began."""
        self._dropped += len(self._lines)
        self._lines.clear()
        self._held = 0
        self._owed = 0
        if self._partial and not self._dropping:
            self._dropped += 1
            self._dropping = True
            self._keep_only_a_cut_terminator()
        dropped, self._dropped = self._dropped, 0
        return dropped

    def _line_ended(self, line):
        if self._dropping:
            self._dropping = False
            return
        if self._owed:
            self._owed -= 1
            self._dropped += 1
            return
        if self.terminator == b"\n" and line.endswith(b"\r"):
            line = line[:-1]
        cost = len(line) + LINE_OVERHEAD
        if self._held + cost > self._room:
            self._mark_discarded()
        else:
            self._lines.append(line)
            self._held += cost

    def _discard_in_progress(self):
        """The line in progress is over the limit: drop it as it comes."""
        if self._owed:  # a late reply: dropped anyway
            self._owed -= 1
            self._dropped += 1
        else:
            self._mark_discarded()
        self._dropping = True
        self._keep_only_a_cut_terminator()

    def _mark_discarded(self):
        if not (self._lines and self._lines[-1] is _DISCARDED):
            self._lines.append(_DISCARDED)

    def _keep_only_a_cut_terminator(self):
        del self._partial[:self._searched]
        self._searched = 0
