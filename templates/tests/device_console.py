{%- set name = cookiecutter.device_name -%}
"""Device tests: the example console device (ARTIQ's NDSP tutorial)
against its fake device (fake_device.py) through the simulated transport,
then on a real console: standard output, or an existing terminal or file.

This file is yours: when you port the driver to your instrument, replace
these tests with its own. The transports themselves (TCP, serial, VISA,
the console) are the runtime's, tested with it; the contract tests
(test_contract_*.py) check what every NDSP owes ARTIQ, whatever its
device, and must keep passing unchanged."""

import argparse
import inspect

import numpy
import pytest

from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.fake_device import FakeDevice
from {{ name }}.ndsp_runtime import transports

# How the controller opens the driver and its transport.
KIND = "asyncio" if inspect.iscoroutinefunction(Driver.ping) else "sync"
OPTIONS = argparse.Namespace()  # the device options open() gets


def opened(call, address):
    """The driver on the console at ``address``, as the controller opens
    it."""
    return call(Driver.open(call(transports.open_transport(address, KIND)),
                            OPTIONS))


# --- The protocol, against the fake device -------------------------------

@pytest.fixture
def driver(call):
    transport = call(transports.simulated(FakeDevice(), KIND, timeout=0.1))
    return call(Driver.open(transport, OPTIONS))


def test_simulation_prints_what_the_device_would(driver, call, capsys):
    call(driver.message("hi"))
    assert capsys.readouterr().out == "[simulation] message: hi\n"


def test_message_refuses_what_is_not_text(driver, call):
    with pytest.raises(TypeError, match="msg must be a str, not int"):
        call(driver.message(42))


def test_ping_until_closed(driver, call):
    assert call(driver.ping()) is True
    call(driver.close())
    assert call(driver.ping()) is False


# --- The waveform memory -------------------------------------------------
{% include "tests/waveform.py" %}

# --- A real console ------------------------------------------------------

@pytest.fixture
def console(tmp_path):
    """An existing file to print on, as a terminal would be."""
    path = tmp_path / "console.txt"
    path.touch()
    return path


def test_message_on_standard_output(call, capfdbinary):
    driver = opened(call, "console")
    call(driver.message("hi"))
    assert capfdbinary.readouterr().out == b"message: hi\n"
    call(driver.close())
    print("stdout stays open", flush=True)
    assert capfdbinary.readouterr().out == b"stdout stays open\n"


def test_message_on_a_terminal_or_file(console, call):
    driver = opened(call, f"console:{console}")
    call(driver.message("first"))
    call(driver.message("second"))
    call(driver.close())
    assert console.read_text() == "message: first\nmessage: second\n"


def test_a_missing_device_is_not_created(tmp_path, call):
    unplugged = tmp_path / "ttyUSB0"
    with pytest.raises(FileNotFoundError):
        opened(call, f"console:{unplugged}")
    assert not unplugged.exists()


def test_two_clients_at_once_each_print_whole_lines(console, call,
                                                    concurrently):
    driver = opened(call, f"console:{console}")
    texts = [f"line {i}" for i in range(20)]
    concurrently(*[lambda text=text: driver.message(text) for text in texts])
    call(driver.close())
    lines = console.read_text().splitlines()
    assert sorted(lines) == sorted(f"message: {text}" for text in texts)
