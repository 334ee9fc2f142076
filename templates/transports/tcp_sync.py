"""The TCP transport: lines over a TCP connection (a LAN instrument).

The lines are framed by ndsp_runtime.framing: a reply that comes after its
read timed out is dropped, never read as the answer to a later query.
"""

import logging
import socket
import threading
import time

from .ndsp_runtime.framing import LineFramer

logger = logging.getLogger(__name__)

ADDRESS_HELP = ("host[:port] of the instrument: 192.168.1.50, "
                "psu.lab.example:5025, [::1]:5025 (default port 5025)")
DEFAULT_PORT = 5025
RECEIVE_SIZE = 4096
# Before a write, at most this many pieces already received are read and
# dropped: a device that never stops talking cannot hold the write up.
STALE_READS = 64


def add_options(group):
    """Add this transport's device options to ``group``; their names."""
    return []


def parse_address(device):
    """``host[:port]`` (IPv6 in brackets) -> (host, port)."""
    host, colon, port = device.rpartition(":")
    if not colon or "]" in port or (":" in host and "]" not in host):
        host, port = device, str(DEFAULT_PORT)
    host = host.removeprefix("[").removesuffix("]")
    if not host or not port.isdigit():
        raise ValueError(f"not host[:port]: {device!r}")
    return host, int(port)


class TCPTransport:
    """Lines to and from a TCP connection; each exchange holds the lock."""

    def __init__(self, sock, timeout):
        self._sock = sock
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
        self._sock.close()

    def _write(self, line):
        data = self._framer.frame(line.encode("ascii"))
        self._settle()
        self._sock.settimeout(self._timeout)
        self._sock.sendall(data)

    def _read(self):
        deadline = time.monotonic() + self._timeout
        while (line := self._framer.read_line()) is None:
            if not self._receive(deadline - time.monotonic()):
                got = self._framer.in_progress[:80]
                self._framer.read_timed_out()
                raise TimeoutError(f"no full line within {self._timeout} s "
                                   f"(got {got!r})")
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
            logger.warning("dropped %d late or unasked line(s) from the "
                           "instrument", dropped)

    def _receive(self, wait):
        """Feed the framer what comes within ``wait`` seconds (0: what has
        come already); whether anything did."""
        self._sock.settimeout(max(wait, 0))  # 0: does not block
        try:
            data = self._sock.recv(RECEIVE_SIZE)
        except (BlockingIOError, socket.timeout):
            return False
        if not data:
            raise ConnectionError("the instrument closed the connection")
        self._framer.feed(data)
        return True


def open_transport(device, timeout):
    """A connection to the instrument at ``device``, host[:port]."""
    sock = socket.create_connection(parse_address(device), timeout=timeout)
    return TCPTransport(sock, timeout)
