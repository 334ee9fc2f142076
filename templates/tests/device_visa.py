{%- set name = cookiecutter.device_name -%}
"""Device tests: the example SCPI instrument's protocol against the fake
instrument, then the VISA transport's real I/O path: pyvisa-py against a
loopback socket instrument, and pyvisa-sim's simulated instrument.

This file is yours: when you port the driver to your instrument, replace
these tests with its own. The contract tests (test_contract_*.py) check
what every NDSP owes ARTIQ, whatever its device, and must keep passing
unchanged."""

import sys
from concurrent.futures import ThreadPoolExecutor
{% if cookiecutter.driver_api == "asyncio" %}import time
{% endif %}
import pytest

from conftest import NAME, SIPYCO_MISSING, free_port, run_controller
from {{ name }} import transport
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.simulation import FakeDevice, SimulatedTransport
from instruments import TCPInstrument

# Seconds: ample for a busy machine; short where silence is the point.
TIMEOUT = 2.0
SILENCE_TIMEOUT = 0.5
# pyvisa-sim's description of the instrument FakeDevice imitates.
SIMULATED_INSTRUMENT = """\
spec: "1.1"
devices:
  psu:
    eom:
      TCPIP INSTR:
        q: "\\n"
        r: "\\n"
    error: ERROR
    dialogues:
      - q: "*IDN?"
        r: "%s"
    properties:
      voltage:
        default: 0.0
        getter:
          q: "VOLT?"
          r: "{:.3f}"
        setter:
          q: "VOLT {:.3f}"
        specs:
          min: 0
          max: 30
          type: float
resources:
  TCPIP::192.168.1.50::INSTR:
    device: psu
""" % FakeDevice.IDENTITY


{% include "tests/protocol_scpi.py" %}

@pytest.fixture
def pyvisa_py():
    """The real I/O path's library, or a skip that names it."""
    pytest.importorskip("pyvisa_py", reason="pyvisa-py is not installed: "
                        "pip install -e '.[test]'")


@pytest.fixture
def instrument(pyvisa_py):
    instrument = TCPInstrument(FakeDevice().handle)
    yield instrument
    instrument.close()


@pytest.fixture
def device_address(instrument):
    return f"TCPIP::127.0.0.1::{instrument.port}::SOCKET"


@pytest.fixture
def link(device_address, call):
    link = call(transport.open_transport(device_address, timeout=TIMEOUT))
    yield link
    call(link.close())


{% include "tests/exchanges.py" %}

@pytest.fixture
def simulated(tmp_path, call):
    pytest.importorskip("pyvisa_sim", reason="pyvisa-sim is not installed: "
                        "pip install -e '.[test]'")
    description = tmp_path / "instrument.yaml"
    description.write_text(SIMULATED_INSTRUMENT)
    link = call(transport.open_transport(
        "TCPIP::192.168.1.50::INSTR", timeout=TIMEOUT,
        visa_library=f"{description}@sim"))
    yield link
    call(link.close())


def test_pyvisa_sim_instrument(simulated, call):
    driver = Driver(simulated)
    assert call(driver.identify()) == FakeDevice.IDENTITY
    call(driver.set_voltage(3.25))
    assert call(driver.get_voltage()) == 3.25


def test_pyvisa_sim_answers_an_unknown_command_with_garbage(simulated, call):
    assert call(simulated.query("VOLTAGE?")) == "ERROR"


def test_a_resource_that_cannot_be_opened(pyvisa_py, tmp_path, call):
    with pytest.raises(Exception, match="could not open port"):
        call(transport.open_transport(f"ASRL{tmp_path}/ttyUSB0::INSTR",
                                      timeout=TIMEOUT))


def test_a_socket_where_nothing_listens_is_not_served(pyvisa_py):
    """pyvisa-py opens it without an error, and fails at the first
    exchange: the controller must not serve it."""
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    address = f"TCPIP::127.0.0.1::{free_port()}::SOCKET"
    result = run_controller("-d", address, "--timeout", str(SILENCE_TIMEOUT))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"aqctl_{NAME}: error: cannot open device {address!r}: it does not "
        f"answer: ping() returned False"]


def test_a_missing_library_says_how_to_install_it(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "pyvisa", None)  # import fails
    with pytest.raises(ImportError, match="pip install pyvisa pyvisa-py"):
        call(transport.open_transport("TCPIP::192.168.1.50::INSTR",
                                      timeout=TIMEOUT))


def test_a_device_switched_off_and_on(instrument, serve):
    """pyvisa-py does not notice a closed socket: calls time out and
    ping() turns False, so that artiq_ctlmgr restarts the controller,
    which then reaches the device again."""
    controller = serve(SILENCE_TIMEOUT)
    client = controller.client()
    try:
        assert client.ping() is True
        instrument.unplug()
        with pytest.raises(TimeoutError, match="sent no reply"):
            client.get_voltage()
        assert client.ping() is False
    finally:
        client.close_rpc()
    assert_a_new_controller_reaches_the_device(serve)
