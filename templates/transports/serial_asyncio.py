"""The serial transport: lines over a serial port, with pyserial-asyncio.

The lines are framed by ndsp_runtime.framing: a reply that comes after its
read timed out is dropped, never read as the answer to a later query.
pyserial-asyncio is imported only when a device is opened, so that
--simulation needs nothing but sipyco.
"""

import asyncio
import logging

from .ndsp_runtime.framing import LineFramer

logger = logging.getLogger(__name__)

ADDRESS_HELP = ("a serial port: /dev/ttyUSB0, COM3, or a pyserial URL such "
                "as hwgrep://0403:6001 or socket://host:port")
DEFAULT_BAUDRATE = 9600


def add_options(group):
    """Add this transport's device options to ``group``; their names."""
    return [group.add_argument(
        "--baudrate", type=int, default=DEFAULT_BAUDRATE,
        help="serial baud rate (default: %(default)s)").dest]


class _Receiver(asyncio.Protocol):
    """Feeds the framer what arrives, as it arrives (the framer bounds
    what it holds), and wakes the read that waits for it."""

    def __init__(self, framer):
        self.framer = framer
        self._arrived = asyncio.Event()
        self._closed = False
        self._error = None  # what closed it, if an error did

    def data_received(self, data):
        self.framer.feed(data)
        self._arrived.set()

    def connection_lost(self, exc):
        self._closed, self._error = True, exc
        self._arrived.set()

    async def receive(self, wait):
        """Wait up to ``wait`` seconds for more data; whether any came."""
        self._arrived.clear()
        if not self._closed:
            try:
                await asyncio.wait_for(self._arrived.wait(), max(wait, 0))
            except asyncio.TimeoutError:
                return False
        if self._closed:
            why = f": {self._error!r}" if self._error else ""
            raise ConnectionError(f"the serial port is closed{why}")
        return True


class SerialTransport:
    """Lines to and from a serial port; each exchange holds the lock."""

    def __init__(self, name, link, receiver, timeout):
        self._name = name
        self._link = link
        self._receiver = receiver
        self._framer = receiver.framer
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
        self._link.close()

    async def _write(self, line):
        data = self._framer.frame(line.encode("ascii"))
        await self._settle()
        self._link.write(data)

    async def _read(self):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        try:
            while (line := self._framer.read_line()) is None:
                if not await self._receiver.receive(deadline - loop.time()):
                    raise TimeoutError(
                        f"{self._name} sent no full line within "
                        f"{self._timeout} s "
                        f"(got {self._framer.in_progress[:80]!r})")
        except (TimeoutError, asyncio.CancelledError):
            self._framer.read_timed_out()  # its reply is dropped if it comes
            raise
        return line.decode("ascii", "replace")

    async def _settle(self):
        """Before a write: wait up to one timeout for a late reply still
        owed, and drop it with whatever else has come (framing.py)."""
        await asyncio.sleep(0)  # the event loop hands over what has come
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timeout
        while self._framer.owes and await self._receiver.receive(
                deadline - loop.time()):
            pass
        if dropped := self._framer.begin_exchange():
            logger.warning("dropped %d late or unasked line(s) from %s",
                           dropped, self._name)


async def open_transport(device, timeout, baudrate=DEFAULT_BAUDRATE):
    """The serial port (or pyserial URL) ``device``."""
    try:
        import serial_asyncio
    except ImportError as error:
        raise ImportError("the serial transport needs pyserial-asyncio: "
                          "pip install pyserial-asyncio") from error
    link, receiver = await asyncio.wait_for(
        serial_asyncio.create_serial_connection(
            asyncio.get_running_loop(), lambda: _Receiver(LineFramer()),
            device, baudrate=baudrate),
        timeout)
    return SerialTransport(device, link, receiver, timeout)
