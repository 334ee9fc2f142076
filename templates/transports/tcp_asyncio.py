"""The TCP transport: lines over a TCP connection (a LAN instrument).

The lines are framed by ndsp_runtime.framing: a reply that comes after its
read timed out is dropped, never read as the answer to a later query.
"""

import asyncio
import logging

from .ndsp_runtime.framing import LineFramer

logger = logging.getLogger(__name__)

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
            raise ConnectionError(f"the instrument closed the connection{why}")
        return True


class TCPTransport:
    """Lines to and from a TCP connection; each exchange holds the lock."""

    def __init__(self, link, receiver, timeout):
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
                        f"no full line within {self._timeout} s "
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
            logger.warning("dropped %d late or unasked line(s) from the "
                           "instrument", dropped)


async def open_transport(device, timeout):
    """A connection to the instrument at ``device``, host[:port]."""
    host, port = parse_address(device)
    link, receiver = await asyncio.wait_for(
        asyncio.get_running_loop().create_connection(
            lambda: _Receiver(LineFramer()), host, port),
        timeout)
    return TCPTransport(link, receiver, timeout)
