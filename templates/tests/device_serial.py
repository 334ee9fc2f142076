{%- set name = cookiecutter.device_name -%}
"""Device tests: the example SCPI instrument's protocol against the fake
instrument, then the serial transport's real I/O path against an
instrument at the far end of a pseudo-terminal.

This file is yours: when you port the driver to your instrument, replace
these tests with its own. The contract tests (test_contract_*.py) check
what every NDSP owes ARTIQ, whatever its device, and must keep passing
unchanged."""

import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import NAME, SIPYCO_MISSING, run_controller
from {{ name }} import transport
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.simulation import FakeDevice, SimulatedTransport
from instruments import PtyInstrument

# Seconds: ample for a busy machine; short where silence is the point.
TIMEOUT = 2.0
SILENCE_TIMEOUT = 0.5


{% include "tests/protocol_scpi.py" %}

@pytest.fixture
def pyserial():
    """The real I/O path's library, or a skip that names it."""
    pytest.importorskip("serial", reason="pyserial is not installed: "
                        "pip install -e '.[test]'")


@pytest.fixture
def instrument(pyserial):
    if sys.platform == "win32":
        pytest.skip("pseudo-terminals need a POSIX system")
    instrument = PtyInstrument(FakeDevice().handle)
    yield instrument
    instrument.close()


@pytest.fixture
def device_address(instrument):
    return instrument.address


@pytest.fixture
def link(device_address, call):
    link = call(transport.open_transport(device_address, timeout=TIMEOUT,
                                         baudrate=115200))
    yield link
    call(link.close())


{% include "tests/exchanges.py" %}

def test_a_port_that_does_not_exist(pyserial, tmp_path, call):
    with pytest.raises(Exception, match="ttyUSB0"):
        call(transport.open_transport(str(tmp_path / "ttyUSB0"),
                                      timeout=TIMEOUT))
    assert not (tmp_path / "ttyUSB0").exists()


def test_a_missing_library_says_how_to_install_it(monkeypatch, call):
    for library in ("serial", "serial_asyncio"):
        monkeypatch.setitem(sys.modules, library, None)  # import fails
    with pytest.raises(ImportError, match="pip install pyserial"):
        call(transport.open_transport("/dev/ttyUSB0", timeout=TIMEOUT))


def test_a_device_unplugged(instrument, serve):
    """Calls fail with a clear error and ping() turns False, so that
    artiq_ctlmgr restarts the controller, which opens the port again."""
    controller = serve(TIMEOUT)
    client = controller.client()
    try:
        assert client.ping() is True
        instrument.unplug()
        with pytest.raises(ConnectionError):
            client.get_voltage()
        assert client.ping() is False
    finally:
        client.close_rpc()
