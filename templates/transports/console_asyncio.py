"""The console transport: lines printed on the controller's standard output,
or on an existing terminal or file. A console never answers."""

import asyncio
import os
import sys

CONSOLE = "console"
ADDRESS_HELP = ("'console' for this controller's standard output, or the "
                "path of an existing terminal or file")


def add_options(group):
    """Add this transport's device options to ``group``; their names."""
    return []


def _open_existing(path, flags):
    """open()'s opener that never creates: a mistyped or unplugged
    /dev/ttyUSB0 must fail, not become a regular file."""
    return os.open(path, flags & ~os.O_CREAT)


class ConsoleTransport:
    """Writes lines on a console."""

    def __init__(self, output):
        self._output = output
        self._lock = asyncio.Lock()

    async def write_line(self, line):
        async with self._lock:
            print(line, file=self._output, flush=True)

    async def read_line(self):
        raise OSError("a console sends nothing to read")

    async def query(self, line):
        await self.write_line(line)
        return await self.read_line()

    async def close(self):
        if self._output is not sys.stdout:
            self._output.close()


async def open_transport(device, timeout):
    """The console that ``device`` names."""
    if device == CONSOLE:
        return ConsoleTransport(sys.stdout)
    return ConsoleTransport(
        open(device, "a", encoding="utf-8", opener=_open_existing))
