{%- set name = cookiecutter.device_name -%}
"""The TCP transport's real I/O path, against a loopback instrument."""

import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import SIPYCO_MISSING
from {{ name }} import transport
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.simulation import FakeDevice
from instruments import TCPInstrument

# Seconds: ample for a busy machine; short where silence is the point.
TIMEOUT = 2.0
SILENCE_TIMEOUT = 0.5
# What a real device needs, and --simulation must not.
LIBRARIES = ()


@pytest.fixture
def instrument():
    instrument = TCPInstrument(FakeDevice().handle)
    yield instrument
    instrument.close()


@pytest.fixture
def device_address(instrument):
    return instrument.address


@pytest.fixture
def link(device_address, call):
    link = call(transport.open_transport(device_address, timeout=TIMEOUT))
    yield link
    call(link.close())


{% include "tests/transport_exchanges.py" %}

@pytest.mark.parametrize("address, expected", [
    ("192.168.1.50", ("192.168.1.50", 5025)),
    ("psu.lab.example:4000", ("psu.lab.example", 4000)),
    ("[::1]:5025", ("::1", 5025)),
    ("[fe80::1]", ("fe80::1", 5025)),
])
def test_addresses(address, expected):
    assert transport.parse_address(address) == expected


def test_nothing_listening(call):
    instrument = TCPInstrument(FakeDevice().handle)
    instrument.close()
    with pytest.raises(ConnectionRefusedError):
        call(transport.open_transport(instrument.address, timeout=TIMEOUT))
