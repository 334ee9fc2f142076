{%- set name = cookiecutter.device_name -%}
"""The serial transport's real I/O path, against an instrument at the far
end of a pseudo-terminal."""

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import SIPYCO_MISSING
from {{ name }} import transport
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.simulation import FakeDevice

pytest.importorskip("serial", reason="pyserial is not installed: "
                    "pip install -e '.[test]'")
if sys.platform == "win32":
    pytest.skip("pseudo-terminals need a POSIX system",
                allow_module_level=True)
from instruments import PtyInstrument

# Seconds: ample for a busy machine; short where silence is the point.
TIMEOUT = 2.0
SILENCE_TIMEOUT = 0.5
# What a real device needs, and --simulation must not.
LIBRARIES = ("serial", "serial_asyncio")


@pytest.fixture
def instrument():
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


{% include "tests/transport_exchanges.py" %}

def test_a_port_that_does_not_exist(tmp_path, call):
    with pytest.raises(Exception, match="ttyUSB0"):
        call(transport.open_transport(str(tmp_path / "ttyUSB0"),
                                      timeout=TIMEOUT))
    assert not (tmp_path / "ttyUSB0").exists()


def test_a_missing_library_says_how_to_install_it(monkeypatch, call):
    for library in ("serial", "serial_asyncio"):
        monkeypatch.setitem(sys.modules, library, None)  # import fails
    with pytest.raises(ImportError, match="pip install pyserial"):
        call(transport.open_transport("/dev/ttyUSB0", timeout=TIMEOUT))
