"""The serial transport: lines over a serial port, with pyserial.

pyserial is imported only when a device is opened, so that --simulation
needs nothing but sipyco.
"""

import threading

ADDRESS_HELP = ("a serial port: /dev/ttyUSB0, COM3, or a pyserial URL such "
                "as hwgrep://0403:6001, socket://host:port or loop://")
DEFAULT_BAUDRATE = 9600


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
        self._port.write(line.encode("ascii") + b"\n")

    def _read(self):
        data = self._port.readline()
        if not data.endswith(b"\n"):
            raise TimeoutError(f"{self._port.name} sent no full line within "
                               f"{self._timeout} s (got {data!r})")
        return data.decode("ascii", "replace").rstrip("\r\n")


def open_transport(device, timeout, baudrate=DEFAULT_BAUDRATE):
    """The serial port (or pyserial URL) ``device``."""
    try:
        import serial
    except ImportError as error:
        raise ImportError("the serial transport needs pyserial: "
                          "pip install pyserial") from error
    port = serial.serial_for_url(device, baudrate=baudrate, timeout=timeout)
    return SerialTransport(port, timeout)
