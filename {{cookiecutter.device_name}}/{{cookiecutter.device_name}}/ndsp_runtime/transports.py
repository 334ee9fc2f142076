"""The transports: bytes to and from the device, whichever way it is
reached, chosen by the form of the address of -d.

========================  ==========  ==================================
``-d``                    transport   library (an extra of the project)
========================  ==========  ==================================
``console``               console     none: this controller's output
``host[:port]``           tcp         none (port 5025 by default)
``/dev/ttyUSB0``,         serial      pyserial (``--baudrate``)
``COM3``, ``socket://``
``TCPIP::...::INSTR``     visa        pyvisa, pyvisa-py
                                      (``--visa-library``)
========================  ==========  ==================================

A prefix ``tcp:``, ``serial:``, ``visa:`` or ``console:`` settles any
doubt: ``serial:/dev/pts/3``, ``console:/dev/pts/3`` (an existing terminal
or file), ``tcp:localhost``.

Every transport is a :class:`Transport`: a driver writes bytes
(:meth:`~Transport.write`) and reads them back by shape
(:meth:`~Transport.read_exactly`, :meth:`~Transport.read_until`,
:meth:`~Transport.read_block`), or writes and reads text lines
(:meth:`~Transport.write_line`, :meth:`~Transport.read_line`,
:meth:`~Transport.query`) with its ``read_termination``,
``write_termination`` and ``encoding``. :meth:`~Transport.discard` drops a
greeting. The framing (framing.py) is the same for every transport and
both driver APIs; a *link* only moves bytes. An asyncio driver gets an
:class:`AsyncTransport`, the same methods as coroutines.
"""

import asyncio
import concurrent.futures
import contextlib
import contextvars
import logging
import os
import re
import socket
import sys
import threading
import time

from . import framing

logger = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 2.0  # seconds to wait for each reply
DEFAULT_TCP_PORT = 5025  # SCPI's raw socket port
DEFAULT_BAUDRATE = 9600
DEFAULT_VISA_LIBRARY = "@py"
RECEIVE_SIZE = 65536
# Before a write, at most this many pieces already received are dropped:
# a device that never stops talking cannot hold the write up.
STALE_READS = 64

ADDRESS_HELP = (
    "'console' (this controller's output); host[:port] of a LAN "
    "instrument (port 5025 by default, [::1]:5025); a serial port "
    "(/dev/ttyUSB0, COM3, a pyserial URL such as socket://host:port); a "
    "VISA resource (TCPIP::192.168.1.50::INSTR, USB0::...::INSTR). A "
    "prefix tcp:, serial:, visa: or console: settles any doubt")
KINDS = ("console", "tcp", "serial", "visa")
# Patterns as text (re caches them): the template's tests refuse any call
# named compile in the package, as they refuse eval.
# ASRL names a port, a number or a path: ASRL3::, ASRL/dev/ttyUSB0::.
_VISA = r"(?i)((TCPIP|USB|GPIB|VXI|PXI|VICP)\d*|ASRL[^:\s]+)::"
_SERIAL = r"(?i)(/dev/\S+|COM\d+|\\\\\.\\COM\d+|[a-z0-9+]+://\S*)"
_HOST = r"[A-Za-z0-9._-]+|\[[0-9A-Fa-f:.%\w]+\]"


def add_arguments(group):
    """The transports' options, on an argparse group."""
    group.add_argument(
        "--timeout", type=positive, default=DEFAULT_TIMEOUT,
        help="seconds to wait for each reply (default: %(default)s)")
    group.add_argument(
        "--baudrate", type=int, default=DEFAULT_BAUDRATE,
        help="serial baud rate (default: %(default)s)")
    group.add_argument(
        "--visa-library", default=DEFAULT_VISA_LIBRARY,
        help="pyvisa backend (default: %(default)s, pyvisa-py)")


def positive(text):
    value = float(text)
    if not value > 0:
        raise ValueError(text)
    return value


def parse_address(address):
    """``-d``'s address -> (kind, target): the transport and what it
    opens. Raises ValueError, with the forms, for anything else."""
    prefix, colon, rest = address.partition(":")
    if colon and prefix in KINDS and rest.startswith("//"):
        # No pyserial URL: tcp://host would reach pyserial as one.
        raise ValueError(f"{address!r} is no address: write "
                         f"{prefix}:{rest[2:]}")
    if colon and prefix in KINDS:
        if not rest:
            raise ValueError(f"nothing after {prefix}: in {address!r}")
        if prefix == "tcp":
            try:
                split_host_port(rest)  # refused here, before opening
            except ValueError:
                raise ValueError(f"{address!r}: not tcp:host[:port]") \
                    from None
        return prefix, rest
    if address == "console":
        return "console", address
    if re.match(_VISA, address):
        return "visa", address
    if re.fullmatch(_SERIAL, address):
        return "serial", address
    try:
        split_host_port(address)
    except ValueError:
        raise ValueError(f"{address!r} is no address: give " +
                         ADDRESS_HELP) from None
    return "tcp", address


def split_host_port(address, default_port=DEFAULT_TCP_PORT):
    """``host[:port]`` (an IPv6 address in brackets) -> (host, port)."""
    host, colon, port = address.rpartition(":")
    if not colon or "]" in port or (":" in host and "]" not in host):
        host, port = address, str(default_port)
    if not re.fullmatch(_HOST, host) or not port.isdigit() or \
            not 0 < int(port) < 65536:
        raise ValueError(f"not host[:port]: {address!r}")
    return host.removeprefix("[").removesuffix("]"), int(port)


def open_transport(address, kind="sync", *, timeout=DEFAULT_TIMEOUT,
                   baudrate=DEFAULT_BAUDRATE,
                   visa_library=DEFAULT_VISA_LIBRARY, **options):
    """The transport to ``address``, for a ``kind`` ("sync" or "asyncio")
    driver; for asyncio, a coroutine. ``options`` the transports do not
    know (the driver's own) are left to the driver."""
    transport, target = parse_address(address)
    settings = {"tcp": dict(timeout=timeout),
                "serial": dict(timeout=timeout, baudrate=baudrate),
                "visa": dict(timeout=timeout, visa_library=visa_library),
                "console": {}}[transport]
    link = LINKS[transport]

    def opened():
        return Transport(link(target, **settings), timeout)
    return _opened_for(kind, opened)


def simulated(device, kind="sync", *, timeout=DEFAULT_TIMEOUT, **options):
    """The transport to ``device``, an instrument in software
    (simulated.FakeDevice); the other options are a real device's."""
    from .simulated import SimulatedLink

    def opened():
        return Transport(SimulatedLink(device), timeout)
    return _opened_for(kind, opened)


def _opened_for(kind, opened):
    if kind == "sync":
        return opened()
    if kind != "asyncio":
        raise ValueError(f"a driver is sync or asyncio, not {kind!r}")

    async def opening():
        executor = _worker()
        try:
            transport = await asyncio.get_running_loop().run_in_executor(
                executor, opened)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return AsyncTransport(transport, executor)
    return opening()


class Transport:
    """Bytes and lines to and from a device through ``link``; each call
    (and each ``with transport.exchange():``) is one exchange, which no
    other thread's interleaves."""

    def __init__(self, link, timeout=DEFAULT_TIMEOUT, *,
                 read_termination=b"\n", write_termination=b"\n",
                 encoding="ascii", limit=framing.DEFAULT_LIMIT):
        self.link = link
        self.timeout = timeout
        self.write_termination = write_termination
        self.encoding = encoding
        self._framer = framing.Framer(limit)
        self.read_termination = read_termination
        self._lock = threading.RLock()

    @property
    def read_termination(self):
        """What ends a line read (bytes), or None: a binary protocol."""
        return self._read_termination

    @read_termination.setter
    def read_termination(self, terminator):
        self._read_termination = _as_bytes(terminator)
        self._framer.usual = (
            None if not terminator
            else lambda: framing.Until(self._read_termination))
        self.link.read_termination = self._read_termination

    @property
    def name(self):
        return self.link.name

    def exchange(self):
        """``with transport.exchange():`` several calls, as one."""
        return self._lock

    def write(self, data):
        """Send ``data`` (bytes), after dropping what came before it."""
        with self._lock:
            self._settle()
            self.link.send(bytes(data))

    def read_exactly(self, size):
        """The next ``size`` bytes."""
        if size > self._framer.limit:
            raise ValueError(f"{size} bytes are over the limit of "
                             f"{self._framer.limit}")
        return self._read(framing.Exactly(size))

    def read_until(self, terminator=None):
        """The bytes up to ``terminator`` (the read termination), without
        it."""
        terminator = _as_bytes(terminator) or self.read_termination
        if not terminator:
            raise ValueError("read_until() needs a terminator: this "
                             "transport's read_termination is None")
        return self._read(framing.Until(terminator))

    def read_block(self):
        """The data of the next IEEE 488.2 definite-length block
        (``#<d><length><data>``), with the read termination after it."""
        return self._read(framing.Block(self.read_termination or b"",
                                        self._framer.limit))

    def write_line(self, line):
        """Send the text ``line`` with the write termination."""
        data = line.encode(self.encoding)
        ending = _as_bytes(self.write_termination) or b""
        if ending and ending in data:
            raise ValueError(f"{line!r} holds the line end {ending!r}: it "
                             f"would be sent as two lines")
        self.write(data + ending)

    def read_line(self):
        """The next line, as text, without its termination (nor a \\r
        before a \\n)."""
        line = self.read_until()
        if self.read_termination == b"\n":
            line = line.removesuffix(b"\r")
        return line.decode(self.encoding, "replace")

    def query(self, line):
        """Send ``line``; the reply line."""
        with self._lock:
            self.write_line(line)
            return self.read_line()

    def query_block(self, line):
        """Send ``line``; the data of the block it answers."""
        with self._lock:
            self.write_line(line)
            return self.read_block()

    def discard(self, quiet=0.1):
        """Drop what the device sends until it has been quiet for
        ``quiet`` seconds (at most the timeout): a greeting on connect,
        or what a device says as it starts. Returns the bytes dropped."""
        deadline = time.monotonic() + self.timeout
        dropped = 0
        with self._lock:
            while (wait := min(quiet, deadline - time.monotonic())) > 0:
                data = self.link.receive(wait, None)
                if not data:
                    break
                dropped += len(data)
            self._framer.begin_exchange()
        if dropped:
            logger.debug("dropped %d bytes from %s", dropped, self.name)
        return dropped

    def close(self):
        self.link.close()

    def _read(self, shape):
        if not getattr(self.link, "can_read", True):
            raise OSError(f"{self.name}: a console sends nothing to read")
        with self._lock:
            deadline = time.monotonic() + self.timeout
            while (record := self._framer.take(shape)) is None:
                wait = deadline - time.monotonic()
                data = self.link.receive(
                    wait, self._framer.wanted(shape)) if wait > 0 else b""
                if not data:
                    got = self._framer.in_progress
                    self._framer.read_timed_out()
                    raise TimeoutError(f"{self.name} sent no full reply "
                                       f"within {self.timeout} s (got "
                                       f"{got!r})")
                self._framer.feed(data)
            return record

    def _settle(self):
        """Before a write: wait up to one timeout for a late reply still
        owed, and drop it with whatever else has come (framing.py)."""
        deadline = time.monotonic() + self.timeout
        while self._framer.owes and (wait := deadline - time.monotonic()) > 0:
            data = self.link.receive(wait, None)
            if not data:
                break
            self._framer.feed(data)
        for _ in range(STALE_READS if self.link.can_poll else 0):
            data = self.link.receive(0, None)
            if not data:
                break
            self._framer.feed(data)
        if dropped := self._framer.begin_exchange():
            logger.warning("dropped %d late or unasked repl(ies) from %s",
                           dropped, self.name)


def _as_bytes(text):
    return text.encode("ascii") if isinstance(text, str) else text


# The transport an exchange of the running task holds.
_held = contextvars.ContextVar("held", default=None)


def _worker():
    return concurrent.futures.ThreadPoolExecutor(
        1, thread_name_prefix="transport")


def _setting(name):
    """An AsyncTransport setting: the sync transport's own."""
    return property(lambda self: getattr(self.sync, name),
                    lambda self, value: setattr(self.sync, name, value),
                    doc=f"The transport's {name}.")


class AsyncTransport:
    """A :class:`Transport` for an asyncio driver: the same methods, as
    coroutines, run one at a time in the transport's own thread, so the
    event loop (ping() among its calls) never waits on the device.

    A call cancelled while the device answers is not interrupted: its
    reply is read and dropped, never handed to a later call.
    """

    def __init__(self, transport, executor=None):
        self.sync = transport
        self._executor = executor or _worker()
        self._lock = asyncio.Lock()

    # The settings are the sync transport's.
    timeout = _setting("timeout")
    read_termination = _setting("read_termination")
    write_termination = _setting("write_termination")
    encoding = _setting("encoding")

    @property
    def name(self):
        return self.sync.name

    @contextlib.asynccontextmanager
    async def exchange(self):
        """``async with transport.exchange():`` several calls, as one."""
        if _held.get() is self:  # nested, in this task: held already
            yield
            return
        async with self._lock:
            held = _held.set(self)
            try:
                yield
            finally:
                _held.reset(held)

    async def _call(self, method, *args):
        loop = asyncio.get_running_loop()
        if _held.get() is self:
            return await loop.run_in_executor(self._executor, method, *args)
        async with self._lock:
            return await loop.run_in_executor(self._executor, method, *args)

    async def write(self, data):
        return await self._call(self.sync.write, data)

    async def read_exactly(self, size):
        return await self._call(self.sync.read_exactly, size)

    async def read_until(self, terminator=None):
        return await self._call(self.sync.read_until, terminator)

    async def read_block(self):
        return await self._call(self.sync.read_block)

    async def write_line(self, line):
        return await self._call(self.sync.write_line, line)

    async def read_line(self):
        return await self._call(self.sync.read_line)

    async def query(self, line):
        return await self._call(self.sync.query, line)

    async def query_block(self, line):
        return await self._call(self.sync.query_block, line)

    async def discard(self, quiet=0.1):
        return await self._call(self.sync.discard, quiet)

    async def close(self):
        try:
            await self._call(self.sync.close)
        finally:
            self._executor.shutdown(wait=False)


# --- links: bytes only ----------------------------------------------------
#
# A link has a name (for messages), send(data), receive(wait, wanted):
# the bytes that come within ``wait`` seconds (0: those already here),
# b"" if none, ConnectionError once the device has gone; ``wanted`` is how
# many bytes the read still needs, if known. can_poll: whether
# receive(0) can look without waiting; can_read (True unless said): whether
# the device sends anything at all.


class TCPLink:
    can_poll = True
    read_termination = None

    def __init__(self, address, timeout):
        self.name = address
        self._timeout = timeout
        self._sock = socket.create_connection(split_host_port(address),
                                              timeout=timeout)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, data):
        # A device that reads nothing must not hold the write (and the
        # exchange's lock) forever.
        self._sock.settimeout(self._timeout)
        try:
            self._sock.sendall(data)
        except socket.timeout:
            raise TimeoutError(f"{self.name} took nothing within "
                               f"{self._timeout} s") from None

    def receive(self, wait, wanted):
        self._sock.settimeout(max(wait, 0))  # 0: does not block
        try:
            data = self._sock.recv(RECEIVE_SIZE)
        except (BlockingIOError, socket.timeout):
            return b""
        if not data:
            raise ConnectionError(f"{self.name} closed the connection")
        return data

    def close(self):
        self._sock.close()


class SerialLink:
    can_poll = True
    read_termination = None

    def __init__(self, port, timeout, baudrate):
        try:
            import serial
        except ImportError as error:
            raise ImportError("the serial transport needs pyserial: pip "
                              "install pyserial") from error
        self.name = port
        self._serial = serial
        self._port = serial.serial_for_url(port, baudrate=baudrate,
                                           timeout=timeout,
                                           write_timeout=timeout)

    def send(self, data):
        with self._errors():
            self._port.write(data)

    def receive(self, wait, wanted):
        port = self._port
        with self._errors():
            if wait > 0:
                port.timeout = wait
                first = port.read(1)
                if not first:
                    return b""
            else:
                first = b""
            # A read that does not wait takes all that has come (socket://
            # says in_waiting is 1 for any amount).
            port.timeout = 0
            return first + port.read(RECEIVE_SIZE)

    @contextlib.contextmanager
    def _errors(self):
        # pyserial's own errors, as the other links': a write that times
        # out, a port or socket:// that went away.
        try:
            yield
        except self._serial.SerialTimeoutException as error:
            raise TimeoutError(f"{self.name}: {error}") from error
        except self._serial.SerialException as error:
            raise ConnectionError(f"{self.name}: {error}") from error

    def close(self):
        self._port.close()


class VisaLink:
    """pyvisa cannot tell what has come without reading it, and a read
    where no reply is owed makes some instruments queue an error (Query
    UNTERMINATED): it reads only for a read."""

    can_poll = False

    def __init__(self, resource, timeout, visa_library):
        try:
            import pyvisa
        except ImportError as error:
            raise ImportError("the VISA transport needs pyvisa and "
                              "pyvisa-py: pip install pyvisa "
                              "pyvisa-py") from error
        self.name = resource
        self._errors, self._constants = pyvisa.errors, pyvisa.constants
        self._resource = pyvisa.ResourceManager(visa_library).open_resource(
            resource, timeout=round(timeout * 1000))
        self._resource.read_termination = None
        self._resource.write_termination = None

    @property
    def read_termination(self):
        return self._termination

    @read_termination.setter
    def read_termination(self, terminator):
        # A read stops at the terminator's last byte: a line comes whole.
        self._termination = terminator
        attributes, constants = (self._resource.set_visa_attribute,
                                 self._constants)
        if terminator:
            attributes(constants.VI_ATTR_TERMCHAR, terminator[-1])
        attributes(constants.VI_ATTR_TERMCHAR_EN, bool(terminator))

    def send(self, data):
        self._resource.write_raw(data)

    def receive(self, wait, wanted):
        if wait <= 0:
            return b""
        self._resource.timeout = wait * 1000  # milliseconds
        try:
            return self._resource.read_bytes(
                min(wanted or RECEIVE_SIZE, RECEIVE_SIZE),
                break_on_termchar=bool(self._termination))
        except self._errors.VisaIOError as error:
            if error.error_code != self._errors.StatusCode.error_timeout:
                raise
            return b""

    def close(self):
        self._resource.close()


class ConsoleLink:
    """This controller's standard output, or an existing terminal or file
    (never created: a mistyped /dev/ttyUSB0 must fail, not become a
    file). A console sends nothing back."""

    can_poll = True
    can_read = False
    read_termination = None

    def __init__(self, target):
        self.name = target
        if target == "console":
            self._output = sys.stdout.buffer
        else:
            self._output = open(target, "ab", buffering=0,
                                opener=_open_existing)

    def send(self, data):
        self._output.write(data)
        self._output.flush()

    def receive(self, wait, wanted):
        return b""

    def close(self):
        if self._output is not sys.stdout.buffer:
            self._output.close()


def _open_existing(path, flags):
    return os.open(path, flags & ~os.O_CREAT)


LINKS = {"tcp": TCPLink, "serial": SerialLink, "visa": VisaLink,
         "console": ConsoleLink}
