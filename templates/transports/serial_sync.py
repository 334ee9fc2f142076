"""The serial transport: lines over a serial port, with pyserial.

The lines are framed by ndsp_runtime.framing: a reply that comes after its
read timed out is dropped, never read as the answer to a later query.
pyserial is imported only when a device is opened, so that --simulation
needs nothing but sipyco.
"""

import logging
import threading
import time

from .ndsp_runtime.framing import LineFramer

logger = logging.getLogger(__name__)

ADDRESS_HELP = ("a serial port: /dev/ttyUSB0, COM3, or a pyserial URL such "
                "as hwgrep://0403:6001, socket://host:port or loop://")
DEFAULT_BAUDRATE = 9600
# Seconds a blocking read of the port waits at most, so that the deadlines
# are the transport's own (a read returns as soon as a byte comes).
POLL = 0.05
# Before a write, at most this many pieces already received are read and
# dropped: a device that never stops talking cannot hold the write up.
STALE_READS = 64


def add_options(group):
    """Add this transport's device options to ``group``; their names."""
    return [group.add_argument(
        "--baudrate", type=int, default=DEFAULT_BAUDRATE,
        help="serial baud rate (default: %(default)s)").dest]


class SerialTransport:
    """Lines to and from a serial port; each exchange holds the lock."""

    def __init__(self, port, timeout):
        self._port = port
        self._timeout = timeout
        self._framer = LineFramer()
        self._lock = threading.Lock()

    def write_line(self, line):
        with self._lock:
            self._write(line)

    def read_line(self):
        with self._lock:
            return self._read()

    def query(self, line):
        """Send ``line`` and return the reply, with no other exchange
        in between."""
        with self._lock:
            self._write(line)
            return self._read()

    def close(self):
        self._port.close()

    def _write(self, line):
        data = self._framer.frame(line.encode("ascii"))
        self._settle()
        self._port.write(data)

    def _read(self):
        deadline = time.monotonic() + self._timeout
        while (line := self._framer.read_line()) is None:
            if not self._receive(deadline - time.monotonic()):
                got = self._framer.in_progress[:80]
                self._framer.read_timed_out()
                raise TimeoutError(f"{self._port.name} sent no full line "
                                   f"within {self._timeout} s (got {got!r})")
        return line.decode("ascii", "replace")

    def _settle(self):
        """Before a write: wait up to one timeout for a late reply still
        owed, and drop it with whatever else has come (framing.py)."""
        deadline = time.monotonic() + self._timeout
        while self._framer.owes and self._receive(deadline - time.monotonic()):
            pass
        for _ in range(STALE_READS):
            if not self._receive(0):
                break
        if dropped := self._framer.begin_exchange():
            logger.warning("dropped %d late or unasked line(s) from %s",
                           dropped, self._port.name)

    def _receive(self, wait):
        """Feed the framer what comes within ``wait`` seconds (0: what has
        come already); whether anything did."""
        try:
            data = self._take(wait)
        except OSError as error:  # SerialException too: the port is gone
            raise ConnectionError(f"{self._port.name}: {error}") from error
        self._framer.feed(data)
        return bool(data)

    def _take(self, wait):
        deadline = time.monotonic() + wait
        while not (waiting := self._port.in_waiting):
            if time.monotonic() >= deadline:
                return b""
            if first := self._port.read(1):  # waits POLL seconds at most
                return first
        return self._port.read(waiting)


def open_transport(device, timeout, baudrate=DEFAULT_BAUDRATE):
    """The serial port (or pyserial URL) ``device``."""
    try:
        import serial
    except ImportError as error:
        raise ImportError("the serial transport needs pyserial: "
                          "pip install pyserial") from error
    port = serial.serial_for_url(device, baudrate=baudrate, timeout=POLL)
    return SerialTransport(port, timeout)
