{%- set name = cookiecutter.device_name -%}
"""The VISA transport's real I/O path: pyvisa-py against a loopback socket
instrument, and pyvisa-sim's simulated instrument."""

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import SIPYCO_MISSING
from {{ name }} import transport
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.simulation import FakeDevice
from instruments import TCPInstrument

pytest.importorskip("pyvisa_py", reason="pyvisa-py is not installed: "
                    "pip install -e '.[test]'")
# Seconds: ample for a busy machine; short where silence is the point.
TIMEOUT = 2.0
SILENCE_TIMEOUT = 0.5
# What a real device needs, and --simulation must not.
LIBRARIES = ("pyvisa", "pyvisa_py")
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


@pytest.fixture
def instrument():
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


{% include "tests/transport_exchanges.py" %}

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


def test_a_resource_that_cannot_be_opened(tmp_path, call):
    with pytest.raises(Exception, match="could not open port"):
        call(transport.open_transport(f"ASRL{tmp_path}/ttyUSB0::INSTR",
                                      timeout=TIMEOUT))


def test_a_missing_library_says_how_to_install_it(monkeypatch, call):
    monkeypatch.setitem(sys.modules, "pyvisa", None)  # import fails
    with pytest.raises(ImportError, match="pip install pyvisa pyvisa-py"):
        call(transport.open_transport("TCPIP::192.168.1.50::INSTR",
                                      timeout=TIMEOUT))
