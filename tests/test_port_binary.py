"""The porting promise for a binary protocol: a generated project becomes
the NDSP of a Thorlabs T-Cube (APT frames: a fixed header carrying a
length, data of each message's own length, a greeting on connect, a
start-up query in the driver's factory, -P choosing a TPZ001 or a TDC001)
by replacing only its user's files with those of tests/ported_binary.
The port passes its own tests, and its controller serves a real T-Cube
protocol over a real loopback transport: pyserial's socket:// to an
instrument scripted here, byte by byte, independently of the port's own
fake device."""

import filecmp
import os
import shutil
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest

from conftest import HAS_SIPYCO, TEMPLATE, generate, run_python
from installed import free_port

PORTED = TEMPLATE / "tests" / "ported_binary"
ANSWERS = {"device_name": "tcube", "device_title": "Thorlabs T-Cube",
           "default_port": "3255", "transport": "serial",
           "driver_api": "asyncio"}
# The user's files: where each of tests/ported_binary goes.
USER_FILES = {"driver.py": "tcube/driver.py",
              "fake_device.py": "tcube/fake_device.py",
              "aqctl.py": "tcube/aqctl_tcube.py",
              "device_tests.py": "tests/test_device.py"}
NO_BYTECODE = {"PYTHONDONTWRITEBYTECODE": "1"}
NEEDS_SIPYCO = pytest.mark.skipif(
    not HAS_SIPYCO, reason="sipyco is not installed: this test calls the "
    "ported controller over sipyco RPC")


@pytest.fixture(scope="module")
def generated(render):
    return render(**ANSWERS)


@pytest.fixture(scope="module")
def ported(generated, tmp_path_factory):
    """A copy of the generated project with the user's files replaced."""
    project = tmp_path_factory.mktemp("ported_binary") / "tcube"
    shutil.copytree(generated, project)
    for source, target in USER_FILES.items():
        shutil.copy(PORTED / source, project / target)
    return project


def files(folder):
    return {str(path.relative_to(folder)) for path in folder.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts}


def test_a_port_changes_only_the_users_files(ported, tmp_path):
    fresh = generate(tmp_path, **ANSWERS)
    assert files(ported) == files(fresh)
    generic = files(fresh) - set(USER_FILES.values())
    assert any(path.startswith("tcube/ndsp_runtime/") for path in generic)
    _, different, errors = filecmp.cmpfiles(fresh, ported, sorted(generic),
                                            shallow=False)
    assert different == errors == [], different + errors
    for path in USER_FILES.values():
        assert (ported / path).read_bytes() != (fresh / path).read_bytes()
    controller = (ported / "tcube" / "aqctl_tcube.py").read_text()
    assert len(controller.splitlines()) <= 60


def test_the_port_passes_flake8_and_its_own_tests(ported):
    result = run_python("-m", "flake8", ".", cwd=ported)
    assert result.returncode == 0, result.stdout
    # The project's own pytest settings, not this suite's.
    environment = dict(os.environ, **NO_BYTECODE)
    environment.pop("PYTEST_ADDOPTS", None)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=ported, capture_output=True, text=True, timeout=300,
        env=environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout.splitlines()[-1]
    # Only what needs an installed package or a missing library skips.
    for line in result.stdout.splitlines():
        if line.startswith("SKIPPED"):
            assert "is not on PATH" in line or "not installed" in line, line


# --- a T-Cube on 127.0.0.1 -----------------------------------------------
# Its frames are written out here with struct, not taken from the port.

# Sent as a device booting sends it, in pieces: the first may be gone
# before the driver's first request, the rest comes after it.
GREETING = [b"\x00\x00", b"T-Cube ", b"APT ready\r\n"]
GREETING_PAUSE = 0.03  # seconds between its pieces
LIMIT_100V = 2  # PZ_GET_TPZ_IOSETTINGS's voltage limit code: 100 V


def header_only(message, param1=0, param2=0):
    return struct.pack("<HBBBB", message, param1, param2, 0x01, 0x50)


def with_data(message, data):
    return struct.pack("<HHBB", message, len(data), 0x81, 0x50) + data


class Tcube:
    """A T-Cube of ``model`` behind a TCP port: it greets, answers the
    APT requests of its product, and records each frame it gets. Bytes
    put in ``instead`` are sent in place of its next reply."""

    def __init__(self, model):
        self.model = model
        self.frames = []  # (message id, the frame's bytes after its id)
        self.instead = []
        self.enabled, self.volts_step, self.counts = 2, 0, 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def close(self):
        self.listener.close()

    def _serve(self):
        while True:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return  # closed
            with connection:
                try:
                    self._converse(connection)
                except OSError:
                    pass

    def _converse(self, connection):
        for piece in GREETING:
            connection.sendall(piece)
            time.sleep(GREETING_PAUSE)
        pending = b""
        while data := connection.recv(4096):
            pending += data
            while len(pending) >= 6:
                message, length, destination = struct.unpack_from(
                    "<HHB", pending)
                size = 6 + (length if destination & 0x80 else 0)
                if len(pending) < size:
                    break
                frame, pending = pending[:size], pending[size:]
                self.frames.append((message, frame[2:]))
                answer = self._answer(message, frame)
                if answer and self.instead:
                    answer = self.instead.pop(0)
                connection.sendall(answer)

    def _answer(self, message, frame):
        tpz = self.model == "TPZ001"
        if message == 0x0005:  # HW_REQ_INFO
            return with_data(0x0006, struct.pack(
                "<I8sH4s48s12xHHH", 81234567, self.model.encode(), 1,
                bytes([2, 0, 3, 0]), b"", 1, 0, 1))
        if message == 0x0210:  # MOD_SET_CHANENABLESTATE
            self.enabled = frame[3]
        elif message == 0x0211:
            return header_only(0x0212, 1, self.enabled)
        elif message == 0x07D5 and tpz:  # PZ_REQ_TPZ_IOSETTINGS
            return with_data(0x07D6, struct.pack("<5H", 1, LIMIT_100V,
                                                 0, 0, 0))
        elif message == 0x0643 and tpz:  # PZ_SET_OUTPUTVOLTS
            _, self.volts_step = struct.unpack("<Hh", frame[6:])
        elif message == 0x0644 and tpz:
            return with_data(0x0645, struct.pack("<Hh", 1, self.volts_step))
        elif message == 0x0453 and not tpz:  # MOT_MOVE_ABSOLUTE
            _, self.counts = struct.unpack("<Hi", frame[6:])
            return with_data(0x0464, struct.pack("<HiiI", 1, self.counts,
                                                 self.counts, 0))
        elif message == 0x0411 and not tpz:  # MOT_REQ_POSCOUNTER
            return with_data(0x0412, struct.pack("<Hi", 1, self.counts))
        return b""


@pytest.fixture
def instrument():
    """instrument(model): a T-Cube on 127.0.0.1, closed after the test."""
    made = []

    def make(model):
        made.append(Tcube(model))
        return made[-1]

    yield make
    for tcube in made:
        tcube.close()


@pytest.fixture
def controller(ported):
    """controller(tcube, product): the ported controller, started as
    artiq_ctlmgr starts it, on ``tcube`` through pyserial's socket://."""
    pytest.importorskip("serial", reason="pyserial is not installed: the "
                        "serial transport needs it")
    started = []

    def start(tcube, product):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "tcube.aqctl_tcube",
             "-d", f"socket://127.0.0.1:{tcube.port}", "-P", product,
             "--no-localhost-bind",
             "--bind", "127.0.0.1", "-p", str(port)],
            cwd=ported, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=dict(os.environ, **NO_BYTECODE))
        started.append(process)
        return process, port

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.communicate()


def client_of(process, port):
    from sipyco.pc_rpc import Client

    deadline = time.monotonic() + 15
    while True:
        try:
            return Client("127.0.0.1", port, "tcube", timeout=5)
        except ConnectionRefusedError:
            if process.poll() is not None:
                pytest.fail("the controller exited: "
                            + process.communicate()[1])
            if time.monotonic() > deadline:
                pytest.fail("the controller never listened")
            time.sleep(0.05)


def terminated(process, client):
    client.terminate()
    client.close_rpc()
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 0, stderr
    return stderr


# What the T-Cube sends in place of a reply: bytes that are no APT frame,
# and a header declaring far more data than the reply carries.
WRONG_REPLIES = {
    b"\x13\x37 not an APT frame at all \xff\xfe": "not an APT reply",
    struct.pack("<HHBB", 0x0645, 60000, 0x81, 0x50) + bytes(60000):
        "carries 4 bytes"}


@NEEDS_SIPYCO
def test_a_tpz001_over_a_real_serial_link(instrument, controller):
    from sipyco.packed_exceptions import GenericRemoteException

    tcube = instrument("TPZ001")
    process, port = controller(tcube, "tpz001")
    client = client_of(process, port)
    assert client.ping() is True
    assert client.product() == "tpz001"
    assert client.hardware_info() == {"model": "TPZ001", "firmware": "3.0.2",
                                      "serial_number": 81234567}
    # The voltage limit, asked at start-up.
    assert client.output_range() == [0.0, 100.0]
    client.set_output(30.0)
    assert client.get_output() == pytest.approx(30.0, abs=100 / 32767)
    # Received in order: the set before the get.
    assert tcube.volts_step == round(30.0 / 100.0 * 32767)
    client.set_enabled(True)
    assert client.is_enabled() is True
    for wrong, error in WRONG_REPLIES.items():
        tcube.instead.append(wrong)
        with pytest.raises(GenericRemoteException, match=error):
            client.get_output()
        assert process.poll() is None
        assert client.get_output() == pytest.approx(30.0, abs=100 / 32767)
        assert client.ping() is True
    terminated(process, client)
    # Frames of the TPZ001 only: PZ_SET_OUTPUTVOLTS, channel 1 and its
    # step, as bytes after the id.
    assert (0x0643, struct.pack("<HBBHh", 4, 0xD0, 0x01, 1, 9830)) \
        in tcube.frames
    assert not {0x0453, 0x0411} & {message for message, _ in tcube.frames}


@NEEDS_SIPYCO
def test_a_tdc001_over_a_real_serial_link(instrument, controller):
    tcube = instrument("TDC001")
    process, port = controller(tcube, "tdc001")
    client = client_of(process, port)
    assert client.product() == "tdc001"
    assert client.output_range() == [0.0, 12.0]
    client.set_output(2.5)
    assert tcube.counts == 2.5 * 34304
    assert client.get_output() == 2.5
    terminated(process, client)
    assert not {0x0643, 0x07D5} & {message for message, _ in tcube.frames}


@NEEDS_SIPYCO
def test_a_product_that_is_not_the_device_is_refused(instrument,
                                                     controller):
    tcube = instrument("TPZ001")
    process, _ = controller(tcube, "tdc001")
    _, stderr = process.communicate(timeout=15)
    assert process.returncode == 1
    [line] = stderr.strip().splitlines()
    assert line == (f"aqctl_tcube: error: cannot open device "
                    f"'socket://127.0.0.1:{tcube.port}': the device is a "
                    f"'TPZ001', not a TDC001 (-P/--product)")
