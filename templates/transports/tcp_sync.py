"""The TCP transport: lines over a TCP connection (a LAN instrument)."""

import socket
import threading

ADDRESS_HELP = ("host[:port] of the instrument: 192.168.1.50, "
                "psu.lab.example:5025, [::1]:5025 (default port 5025)")
DEFAULT_PORT = 5025


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
        self._received = bytearray()
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
        self._sock.sendall(line.encode("ascii") + b"\n")

    def _read(self):
        while b"\n" not in self._received:
            try:
                data = self._sock.recv(4096)
            except socket.timeout:
                raise TimeoutError(
                    f"no full line within {self._timeout} s "
                    f"(got {bytes(self._received)!r})") from None
            if not data:
                raise ConnectionError("the instrument closed the connection")
            self._received += data
        line, _, self._received = self._received.partition(b"\n")
        return line.decode("ascii", "replace").rstrip("\r")


def open_transport(device, timeout):
    """A connection to the instrument at ``device``, host[:port]."""
    sock = socket.create_connection(parse_address(device), timeout=timeout)
    return TCPTransport(sock, timeout)
