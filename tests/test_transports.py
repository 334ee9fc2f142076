"""The runtime's transports (ndsp_runtime/transports.py, simulated.py), in
process: the address picks the transport, and each link moves real bytes
over loopback (TCP, pyserial's socket:// and loop://, pyvisa-py's
TCPIP SOCKET, the console) through the one framing, sync and asyncio. The
framing's own rules are test_framing.py's."""

import asyncio
import contextlib
import importlib.util
import socket
import sys
import threading
import time
import types

import pytest

from conftest import TEMPLATE

sys.path.insert(0, str(TEMPLATE / "{{cookiecutter.device_name}}"
                       / "{{cookiecutter.device_name}}"))

from ndsp_runtime import transports  # noqa: E402
from ndsp_runtime.simulated import FakeDevice, LineDevice  # noqa: E402
from ndsp_runtime.transports import (  # noqa: E402
    open_transport, parse_address, simulated, split_host_port)

# Seconds: ANSWER is ample for a reply on a busy machine; a reply slower
# than TIMEOUT, the timeout of a read meant to time out, is late, and LATE
# is later still. The settling wait for a late reply is the timeout of the
# next query: ANSWER.
ANSWER = 2.0
TIMEOUT = 0.2
LATE = 0.3
IDENTITY = "ACME,PSU-1,0,1.0"
CLOSE = object()  # a reply that closes the connection

try:
    from serial.urlhandler import protocol_socket
except ImportError:  # pyserial, the serial transport's extra
    protocol_socket = None

needs_pyvisa_py = pytest.mark.skipif(
    importlib.util.find_spec("pyvisa_py") is None,
    reason="pyvisa and pyvisa-py are not installed: the VISA transport's "
    "extra")


def scpi(command):
    """The loopback instrument's answers: a line protocol with blocks."""
    if command == b"*IDN?":
        return IDENTITY.encode() + b"\n"
    if command.startswith(b"ECHO "):
        return command[5:] + b"\r\n"  # a \r before the \n, as many send
    if command == b"WAVE?":
        return b"#210" + bytes(range(10)) + b"\n"
    if command == b"BYE":
        return CLOSE
    return None  # unknown: no answer


class Instrument:
    """A scripted instrument on a free loopback port: each command ended
    by ``terminator`` is answered with ``handle(command)`` (bytes, None
    for no answer, CLOSE to hang up); ``greeting`` goes out on connect."""

    def __init__(self, handle=scpi, greeting=b"", terminator=b"\n"):
        self.handle, self.greeting = handle, greeting
        self.terminator = terminator
        self.delays = []  # seconds before each next reply
        self.received = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port = self._server.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._connections = []
        threading.Thread(target=self._accept, daemon=True).start()

    def answer_late(self, delay=LATE):
        self.delays.append(delay)

    def send_unasked(self, data):
        for connection in self._connections:
            connection.sendall(data)

    def _accept(self):
        while True:
            try:
                connection, _ = self._server.accept()
            except OSError:  # closed
                return
            self._connections.append(connection)
            threading.Thread(target=self._serve, args=(connection,),
                             daemon=True).start()

    def _serve(self, connection):
        with contextlib.suppress(OSError), connection:
            connection.sendall(self.greeting)
            pending = b""
            while data := connection.recv(4096):
                pending += data
                *commands, pending = pending.split(self.terminator)
                for command in commands:
                    self.received.append(command)
                    reply = self.handle(command)
                    if reply is CLOSE:
                        return
                    if reply is not None:
                        time.sleep(self.delays.pop(0) if self.delays else 0)
                        connection.sendall(reply)

    def close(self):
        with contextlib.suppress(OSError):
            self._server.shutdown(socket.SHUT_RDWR)
        self._server.close()
        for connection in self._connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def instrument():
    instrument = Instrument()
    yield instrument
    instrument.close()


@contextlib.contextmanager
def timing_out(transport):
    """Reads time out after TIMEOUT within."""
    transport.timeout = TIMEOUT
    try:
        yield
    finally:
        transport.timeout = ANSWER


@contextlib.contextmanager
def opened(address, **options):
    transport = open_transport(address, timeout=ANSWER, **options)
    try:
        yield transport
    finally:
        transport.close()


# Every link that reaches the loopback instrument, by its address.
LINKED = {
    "tcp": lambda port: f"127.0.0.1:{port}",
    "tcp-prefix": lambda port: f"tcp:localhost:{port}",
    "serial-socket": lambda port: f"socket://127.0.0.1:{port}",
    "visa": pytest.param(lambda port: f"TCPIP::127.0.0.1::{port}::SOCKET",
                         marks=needs_pyvisa_py),
}


@pytest.fixture(params=LINKED.values(), ids=LINKED.keys())
def address(request, instrument, monkeypatch):
    if protocol_socket is not None:
        # pyserial's socket:// waits 0.3 s after closing, in case the same
        # server is dialled again at once: each test's instrument is new.
        monkeypatch.setattr(protocol_socket, "time",
                            types.SimpleNamespace(sleep=lambda seconds: None))
    return request.param(instrument.port)


# --- the address picks the transport ---

@pytest.mark.parametrize("address, kind, target", [
    ("console", "console", "console"),
    ("console:/dev/pts/3", "console", "/dev/pts/3"),
    ("192.168.1.50", "tcp", "192.168.1.50"),
    ("psu.lab.example:4000", "tcp", "psu.lab.example:4000"),
    ("[fe80::1]:5025", "tcp", "[fe80::1]:5025"),
    ("[::1]:5025", "tcp", "[::1]:5025"),
    ("localhost", "tcp", "localhost"),
    ("tcp:localhost", "tcp", "localhost"),
    ("tcp:[::1]:5025", "tcp", "[::1]:5025"),
    ("/dev/ttyUSB0", "serial", "/dev/ttyUSB0"),
    ("/dev/serial/by-id/usb-FTDI_FT232R-if00-port0", "serial",
     "/dev/serial/by-id/usb-FTDI_FT232R-if00-port0"),
    ("COM3", "serial", "COM3"),
    ("\\\\.\\COM10", "serial", "\\\\.\\COM10"),
    ("socket://host:4001", "serial", "socket://host:4001"),
    ("socket://127.0.0.1:4001", "serial", "socket://127.0.0.1:4001"),
    ("hwgrep://0403:6001", "serial", "hwgrep://0403:6001"),
    ("rfc2217://host:2217", "serial", "rfc2217://host:2217"),
    ("loop://", "serial", "loop://"),
    ("serial:/dev/pts/3", "serial", "/dev/pts/3"),
    ("serial:socket://host:4001", "serial", "socket://host:4001"),
    ("TCPIP::192.168.1.50::INSTR", "visa", "TCPIP::192.168.1.50::INSTR"),
    ("TCPIP0::192.168.1.50::inst0::INSTR", "visa",
     "TCPIP0::192.168.1.50::inst0::INSTR"),
    ("TCPIP::host::5025::SOCKET", "visa", "TCPIP::host::5025::SOCKET"),
    ("ASRL/dev/ttyUSB0::INSTR", "visa", "ASRL/dev/ttyUSB0::INSTR"),
    ("ASRL3::INSTR", "visa", "ASRL3::INSTR"),
    ("USB0::0x0957::0x1796::MY123::INSTR", "visa",
     "USB0::0x0957::0x1796::MY123::INSTR"),
    ("GPIB0::12::INSTR", "visa", "GPIB0::12::INSTR"),
    ("visa:MyScope", "visa", "MyScope"),
])
def test_the_address_picks_the_transport(address, kind, target):
    assert parse_address(address) == (kind, target)


@pytest.mark.parametrize("address, host_port", [
    ("192.168.1.50", ("192.168.1.50", 5025)),
    ("psu.lab.example:4000", ("psu.lab.example", 4000)),
    ("[fe80::1]:5025", ("fe80::1", 5025)),
    ("[::1]", ("::1", 5025)),
    ("[fe80::1%eth0]:23", ("fe80::1%eth0", 23)),
])
def test_a_tcp_address_is_host_and_port(address, host_port):
    assert split_host_port(address) == host_port


@pytest.mark.parametrize("address", [
    "", "not an address", "host:99999", "host:0", "host:port", "::1",
    "[::1", "tcp:", "tcp:bad host", "serial:", "visa:", "console:",
    "a\nb", "tcp://192.168.1.50:5025",
])
def test_garbage_is_one_line_value_error(address):
    with pytest.raises(ValueError) as error:
        parse_address(address)
    message = str(error.value)
    assert "\n" not in message.replace(repr(address), "")
    assert repr(address) in message or "nothing after" in message


def test_the_driver_api_is_sync_or_asyncio():
    with pytest.raises(ValueError, match="sync or asyncio"):
        simulated(LineDevice(), "threads")


# --- every link over loopback ---

def test_a_query_is_answered(address):
    with opened(address) as transport:
        assert transport.query("*IDN?") == IDENTITY
        assert transport.query("ECHO two") == "two"  # \r\n: \r dropped
        assert transport.query("*IDN?") == IDENTITY


def test_bytes_in_and_out(address):
    with opened(address) as transport:
        transport.write(b"*IDN?\n")
        assert transport.read_exactly(5) == b"ACME,"
        assert transport.read_until(b",") == b"PSU-1"
        assert transport.read_until() == b"0,1.0"


def test_a_block(address):
    with opened(address) as transport:
        assert transport.query_block("WAVE?") == bytes(range(10))
        transport.write_line("WAVE?")
        assert transport.read_block() == bytes(range(10))
        assert transport.query("*IDN?") == IDENTITY


def test_a_greeting_is_discarded():
    instrument = Instrument(greeting=b"\xff\xfb\x01\xff\xfb\x03")
    try:
        with opened(instrument.address) as transport:
            assert transport.discard(quiet=0.05) == 6
            assert transport.query("*IDN?") == IDENTITY
    finally:
        instrument.close()


def test_a_late_reply_never_answers_the_next_query(address, instrument):
    with opened(address) as transport:
        instrument.answer_late()
        with timing_out(transport), pytest.raises(TimeoutError):
            transport.query("ECHO late")
        assert transport.query("*IDN?") == IDENTITY
        assert transport.query("ECHO next") == "next"


@pytest.mark.parametrize("address", [
    LINKED["tcp"], LINKED["serial-socket"]], ids=["tcp", "serial-socket"])
def test_replies_nobody_asked_for_are_dropped(address, instrument):
    """All that has come before the write, not a first piece of it (VISA
    reads only for a read: it cannot look)."""
    with opened(address(instrument.port)) as transport:
        assert transport.query("*IDN?") == IDENTITY
        instrument.send_unasked(b"a stray line, unasked\n" * 20)
        time.sleep(0.05)
        assert transport.query("ECHO mine") == "mine"


def test_a_timeout_is_one_timeout_error_naming_the_device(address):
    with opened(address) as transport:
        with timing_out(transport), \
                pytest.raises(TimeoutError) as error:
            transport.query("MUTE?")
        message = str(error.value)
        assert address.removeprefix("tcp:") in message
        assert "\n" not in message


def test_a_reply_that_never_comes_is_forgiven(instrument):
    """It costs the next query one timeout of waiting, then nothing."""
    with opened(instrument.address) as transport:
        with timing_out(transport), pytest.raises(TimeoutError):
            transport.query("MUTE?")
        transport.timeout = 2 * TIMEOUT
        assert transport.query("*IDN?") == IDENTITY


@pytest.mark.parametrize("address", [
    LINKED["tcp"], LINKED["serial-socket"]], ids=["tcp", "serial-socket"])
def test_a_device_that_hangs_up_is_a_connection_error(address,
                                                      instrument):
    with opened(address(instrument.port)) as transport:
        with pytest.raises(ConnectionError):
            transport.query("BYE")
        with pytest.raises(ConnectionError):
            transport.query("*IDN?")


def test_nothing_listening_is_a_connection_error():
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
    with pytest.raises(ConnectionError):
        open_transport(f"127.0.0.1:{port}", timeout=TIMEOUT)


def test_a_device_that_reads_nothing_times_the_write_out():
    """Its input full, a write waits at most the timeout, not forever."""
    server = socket.create_server(("127.0.0.1", 0))
    server.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    connections = []
    threading.Thread(target=lambda: connections.append(server.accept()),
                     daemon=True).start()
    transport = open_transport(f"127.0.0.1:{server.getsockname()[1]}",
                               timeout=TIMEOUT)
    errors = []

    def flood():
        try:
            transport.write(b"x" * (64 << 20))
        except Exception as error:  # noqa: B902 (any: it is looked at)
            errors.append(error)
    writer = threading.Thread(target=flood, daemon=True)
    writer.start()
    writer.join(5)
    hung = writer.is_alive()
    transport.close()
    server.close()
    assert not hung
    assert len(errors) == 1 and isinstance(errors[0], TimeoutError)


def test_line_endings_and_encoding_are_settings():
    """A \\r instrument (newfocus8742's way), in latin-1."""
    instrument = Instrument(
        lambda command: command + " \xb0C".encode("latin-1") + b"\r",
        terminator=b"\r")
    try:
        with opened(instrument.address) as transport:
            transport.read_termination = "\r"
            transport.write_termination = b"\r"
            transport.encoding = "latin-1"
            assert transport.query("TEMP") == "TEMP \xb0C"
            assert instrument.received == [b"TEMP"]
    finally:
        instrument.close()


def test_a_line_holding_the_line_end_is_refused(instrument):
    with opened(instrument.address) as transport:
        with pytest.raises(ValueError, match="two lines"):
            transport.write_line("VOLT 1\n*RST")
        assert instrument.received == []


def test_a_reply_over_the_limit_is_an_error_and_the_next_is_read():
    instrument = Instrument(lambda command: (
        b"x" * 5000 + b"\n" if command == b"FLOOD?" else scpi(command)))
    try:
        transport = open_transport(instrument.address, timeout=ANSWER)
        transport = transports.Transport(transport.link, ANSWER,
                                         limit=1000)
        with pytest.raises(ValueError, match="1000"):
            transport.query("FLOOD?")
        assert transport.query("*IDN?") == IDENTITY
        transport.close()
    finally:
        instrument.close()


def test_serial_loopback_url():
    """pyserial's loop:// sends back what is written."""
    with opened("loop://", baudrate=115200) as transport:
        assert transport.query("*IDN?") == "*IDN?"
        transport.write(b"\x02\x00\x01")
        assert transport.read_exactly(3) == b"\x02\x00\x01"
        transport.write(b"#13abc\n")
        assert transport.read_block() == b"abc"


# --- the console ---

def test_the_console_writes_to_an_existing_file(tmp_path):
    path = tmp_path / "terminal"
    path.write_bytes(b"")
    with opened(f"console:{path}") as transport:
        transport.write_line("VOLT 1.000")
        transport.write(b"\x00raw")
    assert path.read_bytes() == b"VOLT 1.000\n\x00raw"


def test_the_console_never_creates_a_file(tmp_path):
    path = tmp_path / "ttyUSB0"
    with pytest.raises(FileNotFoundError):
        open_transport(f"console:{path}")
    assert not path.exists()


def test_a_console_has_no_greeting_to_discard(tmp_path):
    """A driver written for instruments that greet runs on a console."""
    path = tmp_path / "terminal"
    path.write_bytes(b"")
    with opened(f"console:{path}") as transport:
        assert transport.discard() == 0
        transport.write_line("after the greeting")
    assert path.read_bytes() == b"after the greeting\n"


def test_the_console_writes_to_standard_output(capsys):
    with opened("console") as transport:
        transport.write_line("hello, console")
        with pytest.raises(OSError, match="nothing to read"):
            transport.read_line()
    assert capsys.readouterr().out == "hello, console\n"


# --- asyncio ---

@pytest.fixture
def arun():
    """Run a coroutine, bounded: a deadlock fails, it does not hang."""
    def run(coroutine, seconds=5):
        return asyncio.run(asyncio.wait_for(coroutine, seconds))
    return run


def test_asyncio_a_late_reply_never_answers_the_next_query(address,
                                                           instrument,
                                                           arun):
    async def main():
        transport = await open_transport(address, "asyncio",
                                         timeout=ANSWER)
        try:
            instrument.answer_late()
            with timing_out(transport), pytest.raises(TimeoutError):
                await transport.query("ECHO late")
            return await transport.query("*IDN?")
        finally:
            await transport.close()
    assert arun(main()) == IDENTITY


def test_asyncio_a_cancelled_query_does_not_answer_the_next(instrument,
                                                            arun):
    async def main():
        transport = await open_transport(instrument.address, "asyncio",
                                         timeout=ANSWER)
        try:
            instrument.answer_late(0.2)
            cancelled = asyncio.create_task(transport.query("ECHO old"))
            await asyncio.sleep(0.05)
            cancelled.cancel()
            with pytest.raises(asyncio.CancelledError):
                await cancelled
            return await transport.query("ECHO new")
        finally:
            await transport.close()
    assert arun(main()) == "new"


def test_asyncio_an_exchange_is_not_interleaved(instrument, arun):
    async def main():
        transport = await open_transport(instrument.address, "asyncio",
                                         timeout=ANSWER)

        async def write_wait_read():
            async with transport.exchange():
                await transport.write_line("ECHO first")
                await asyncio.sleep(0.1)  # the other task runs meanwhile
                return await transport.read_line()
        try:
            return await asyncio.gather(write_wait_read(),
                                        transport.query("ECHO second"))
        finally:
            await transport.close()
    assert arun(main()) == ["first", "second"]


def test_asyncio_an_exchange_inside_an_exchange(instrument, arun):
    """A driver's helper that takes the exchange, called in one."""
    async def main():
        transport = await open_transport(instrument.address, "asyncio",
                                         timeout=ANSWER)
        try:
            async with transport.exchange():
                async with transport.exchange():
                    return await transport.query("*IDN?")
        finally:
            await transport.close()
    assert arun(main()) == IDENTITY


def test_asyncio_settings_reach_the_transport(arun):
    async def main():
        transport = await simulated(LineDevice(), "asyncio")
        transport.read_termination = "\r"
        transport.timeout = 0.5
        try:
            return transport.sync.read_termination, transport.sync.timeout
        finally:
            await transport.close()
    assert arun(main()) == (b"\r", 0.5)


# --- the simulated transport ---

class Thermometer(LineDevice):
    greeting = b"thermometer ready\n"

    def handle(self, line):
        return {"*IDN?": IDENTITY, "TEMP?": "21.5"}.get(line)


class LengthPrefixed(FakeDevice):
    """A binary instrument: each frame a length byte, then the payload;
    it answers a frame with the payload reversed."""

    greeting = b"\x00"

    def __init__(self):
        self.pending = b""

    def received(self, data):
        self.pending += data
        replies = b""
        while self.pending and len(self.pending) > self.pending[0]:
            size = self.pending[0]
            payload, self.pending = (self.pending[1:1 + size],
                                     self.pending[1 + size:])
            replies += bytes([size]) + payload[::-1]
        return replies


def test_simulated_line_device():
    transport = simulated(Thermometer(), timeout=TIMEOUT)
    assert transport.read_line() == "thermometer ready"
    assert transport.query("TEMP?") == "21.5"
    transport.write(b"*ID")  # a command in pieces
    transport.write(b"N?\n")
    assert transport.read_line() == IDENTITY


def test_simulated_greeting_is_discarded():
    transport = simulated(Thermometer(), timeout=TIMEOUT)
    assert transport.discard() == len(Thermometer.greeting)
    assert transport.query("*IDN?") == IDENTITY


def test_simulated_no_answer_is_a_timeout_at_once():
    transport = simulated(Thermometer(), timeout=TIMEOUT)
    with pytest.raises(TimeoutError, match="the simulated device"):
        transport.query("UNKNOWN?")
    assert transport.query("TEMP?") == "21.5"


def test_simulated_byte_device():
    transport = simulated(LengthPrefixed(), timeout=TIMEOUT)
    transport.read_termination = None
    assert transport.read_exactly(1) == b"\x00"  # its greeting
    transport.write(b"\x03abc")
    size = transport.read_exactly(1)[0]
    assert transport.read_exactly(size) == b"cba"


def test_simulated_asyncio(arun):
    async def main():
        transport = await simulated(Thermometer(), "asyncio",
                                    timeout=TIMEOUT)
        try:
            await transport.discard()
            return await transport.query("TEMP?")
        finally:
            await transport.close()
    assert arun(main()) == "21.5"


def test_simulated_closed_is_an_error():
    transport = simulated(Thermometer(), timeout=TIMEOUT)
    transport.close()
    with pytest.raises(OSError):
        transport.query("TEMP?")
