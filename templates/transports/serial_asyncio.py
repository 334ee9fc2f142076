"""The serial transport: lines over a serial port, with pyserial-asyncio.

pyserial-asyncio is imported only when a device is opened, so that
--simulation needs nothing but sipyco.
"""

import asyncio

ADDRESS_HELP = ("a serial port: /dev/ttyUSB0, COM3, or a pyserial URL such "
                "as hwgrep://0403:6001 or socket://host:port")
DEFAULT_BAUDRATE = 9600


def add_options(group):
    """Add this transport's device options to ``group``; their names."""
    return [group.add_argument(
        "--baudrate", type=int, default=DEFAULT_BAUDRATE,
        help="serial baud rate (default: %(default)s)").dest]


class SerialTransport:
    """Lines to and from a serial port; each exchange holds the lock."""

    def __init__(self, name, reader, writer, timeout):
        self._name = name
        self._reader = reader
        self._writer = writer
        self._timeout = timeout
        self._lock = asyncio.Lock()

    async def write_line(self, line):
        async with self._lock:
            await self._write(line)

    async def read_line(self):
        async with self._lock:
            return await self._read()

    async def query(self, line):
        """Send ``line`` and return the reply, with no other exchange
        in between."""
        async with self._lock:
            await self._write(line)
            return await self._read()

    async def close(self):
        self._writer.close()

    async def _write(self, line):
        self._writer.write(line.encode("ascii") + b"\n")
        await self._writer.drain()

    async def _read(self):
        try:
            data = await asyncio.wait_for(self._reader.readline(),
                                          self._timeout)
        except asyncio.TimeoutError:
            raise TimeoutError(f"{self._name} sent no full line within "
                               f"{self._timeout} s") from None
        if not data.endswith(b"\n"):
            raise ConnectionError(f"{self._name} closed the connection")
        return data.decode("ascii", "replace").rstrip("\r\n")


async def open_transport(device, timeout, baudrate=DEFAULT_BAUDRATE):
    """The serial port (or pyserial URL) ``device``."""
    try:
        import serial_asyncio
    except ImportError as error:
        raise ImportError("the serial transport needs pyserial-asyncio: "
                          "pip install pyserial-asyncio") from error
    reader, writer = await asyncio.wait_for(
        serial_asyncio.open_serial_connection(url=device, baudrate=baudrate),
        timeout)
    return SerialTransport(device, reader, writer, timeout)
