{%- set name = cookiecutter.device_name -%}
"""The serial transport's real I/O path, against an instrument at the far
end of a pseudo-terminal."""

import sys

import pytest

from {{ name }} import transport
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.simulation import FakeDevice

pytest.importorskip("serial", reason="pyserial is not installed: "
                    "pip install -e '.[test]'")
if sys.platform == "win32":
    pytest.skip("pseudo-terminals need a POSIX system",
                allow_module_level=True)
from instruments import PtyInstrument

TIMEOUT = 0.5


@pytest.fixture
def instrument():
    instrument = PtyInstrument(FakeDevice().handle)
    yield instrument
    instrument.close()


@pytest.fixture
def link(instrument, call):
    link = call(transport.open_transport(instrument.address, timeout=TIMEOUT,
                                         baudrate=115200))
    yield link
    call(link.close())


{% include "tests/transport_exchanges.py" %}

def test_a_port_that_does_not_exist(tmp_path, call):
    with pytest.raises(Exception, match="ttyUSB0"):
        call(transport.open_transport(str(tmp_path / "ttyUSB0"),
                                      timeout=TIMEOUT))
    assert not (tmp_path / "ttyUSB0").exists()
