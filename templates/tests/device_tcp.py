{%- set name = cookiecutter.device_name -%}
"""Device tests: the example SCPI instrument's protocol against the fake
instrument, then the TCP transport's real I/O path against a loopback
instrument.

This file is yours: when you port the driver to your instrument, replace
these tests with its own. The contract tests (test_contract_*.py) check
what every NDSP owes ARTIQ, whatever its device, and must keep passing
unchanged."""

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import NAME, SIPYCO_MISSING, run_controller
from {{ name }} import transport
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.simulation import FakeDevice, SimulatedTransport
from instruments import TCPInstrument

# Seconds: ample for a busy machine; short where silence is the point.
TIMEOUT = 2.0
SILENCE_TIMEOUT = 0.5


{% include "tests/protocol_scpi.py" %}

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


{% include "tests/exchanges.py" %}

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


def test_a_device_switched_off_and_on(instrument, serve):
    """Calls fail with a clear error and ping() turns False, so that
    artiq_ctlmgr restarts the controller, which then reaches the device
    again."""
    controller = serve(TIMEOUT)
    client = controller.client()
    try:
        assert client.ping() is True
        instrument.unplug()
        with pytest.raises(ConnectionError, match="closed the connection"):
            client.get_voltage()
        assert client.ping() is False
    finally:
        client.close_rpc()
    assert_a_new_controller_reaches_the_device(serve)
