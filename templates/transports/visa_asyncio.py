"""The VISA transport: lines through pyvisa, with the pyvisa-py backend.

The lines are framed by ndsp_runtime.framing: a reply that comes after its
read timed out is dropped, never read as the answer to a later query.

pyvisa blocks, so each call runs in a worker thread, off the event loop.
pyvisa is imported only when a device is opened, so that --simulation
needs nothing but sipyco.
"""

import asyncio
import logging
import threading
import time

from .ndsp_runtime.framing import LineFramer

logger = logging.getLogger(__name__)

ADDRESS_HELP = ("a VISA resource: TCPIP::192.168.1.50::INSTR, "
                "TCPIP::192.168.1.50::5025::SOCKET, ASRL/dev/ttyUSB0::INSTR, "
                "USB0::0x1AB1::0x04CE::DS1ZA0000001::INSTR")
DEFAULT_VISA_LIBRARY = "@py"
RECEIVE_SIZE = 4096


def add_options(group):
    """Add this transport's device options to ``group``; their names."""
    return [group.add_argument(
        "--visa-library", default=DEFAULT_VISA_LIBRARY,
        help="pyvisa backend (default: %(default)s, pyvisa-py)").dest]


class VisaTransport:
    """Lines to and from a VISA resource; each exchange holds the lock.

    pyvisa blocks: each exchange runs in a worker thread, which holds the
    lock until it is done, even if the call that awaits it is cancelled.
    """

    def __init__(self, resource, timeout, visa_errors):
        self._resource = resource
        self._timeout = timeout
        self._errors = visa_errors
        self._framer = LineFramer()
        self._lock = threading.Lock()

    async def write_line(self, line):
        await asyncio.to_thread(self._locked, self._write, line)

    async def read_line(self):
        return await asyncio.to_thread(self._locked, self._read)

    async def query(self, line):
        """Send ``line`` and return the reply, with no other exchange
        in between."""
        return await asyncio.to_thread(self._locked, self._query, line)

    async def close(self):
        await asyncio.to_thread(self._locked, self._resource.close)

    def _locked(self, exchange, *args):
        with self._lock:
            return exchange(*args)

    def _query(self, line):
        self._write(line)
        return self._read()

    def _write(self, line):
        data = self._framer.frame(line.encode("ascii"))
        self._settle()
        self._resource.write_raw(data)

    def _read(self):
        deadline = time.monotonic() + self._timeout
        while (line := self._framer.read_line()) is None:
            if not self._receive(deadline - time.monotonic()):
                self._framer.read_timed_out()
                raise TimeoutError(f"{self._resource.resource_name} sent no "
                                   f"reply within {self._timeout} s")
        return line.decode("ascii", "replace")

    def _settle(self):
        """Before a write: wait up to one timeout for a late reply still
        owed, and drop it (framing.py). pyvisa cannot tell what has come
        without reading it, and a read where no reply is owed makes some
        instruments queue an error (Query UNTERMINATED): only owed replies
        are read. Nor is clear() the way: pyvisa-py's, on a ::SOCKET
        resource, never returns once the instrument has closed the
        connection."""
        deadline = time.monotonic() + self._timeout
        while self._framer.owes and self._receive(deadline - time.monotonic()):
            pass
        if dropped := self._framer.begin_exchange():
            logger.warning("dropped %d late line(s) from %s", dropped,
                           self._resource.resource_name)

    def _receive(self, wait):
        """Feed the framer what comes within ``wait`` seconds, up to a
        line end; whether anything did."""
        if wait <= 0:
            return False
        self._resource.timeout = wait * 1000  # milliseconds
        try:
            data = self._resource.read_bytes(RECEIVE_SIZE,
                                             break_on_termchar=True)
        except self._errors.VisaIOError as error:
            if error.error_code != self._errors.StatusCode.error_timeout:
                raise
            return False
        self._framer.feed(data)
        return True


async def open_transport(device, timeout, visa_library=DEFAULT_VISA_LIBRARY):
    """The VISA resource ``device``."""
    try:
        import pyvisa
    except ImportError as error:
        raise ImportError("the VISA transport needs pyvisa and pyvisa-py: "
                          "pip install pyvisa pyvisa-py") from error

    def open_resource():
        return pyvisa.ResourceManager(visa_library).open_resource(
            device, read_termination="\n", write_termination="\n",
            timeout=round(timeout * 1000))

    resource = await asyncio.to_thread(open_resource)
    return VisaTransport(resource, timeout, pyvisa.errors)
