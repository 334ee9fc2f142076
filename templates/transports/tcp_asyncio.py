"""The TCP transport: lines over a TCP connection (a LAN instrument)."""

import asyncio

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

    def __init__(self, reader, writer, timeout):
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
            raise TimeoutError(
                f"no full line within {self._timeout} s") from None
        if not data.endswith(b"\n"):
            raise ConnectionError("the instrument closed the connection")
        return data.decode("ascii", "replace").rstrip("\r\n")


async def open_transport(device, timeout):
    """A connection to the instrument at ``device``, host[:port]."""
    host, port = parse_address(device)
    reader, writer = await asyncio.wait_for(
        asyncio.open_connection(host, port), timeout)
    return TCPTransport(reader, writer, timeout)
