{%- set name = cookiecutter.device_name -%}
"""Device tests: the example console device (ARTIQ's NDSP tutorial) against
its simulation, then the console transport's real output path: standard
output, or an existing terminal or file.

This file is yours: when you port the driver to your instrument, replace
these tests with its own. The contract tests (test_contract_*.py) check
what every NDSP owes ARTIQ, whatever its device, and must keep passing
unchanged."""

import pytest

from {{ name }} import transport
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.simulation import FakeDevice, SimulatedTransport


{% include "tests/protocol_console.py" %}

@pytest.fixture
def console(tmp_path):
    """An existing file to print on, as a terminal would be."""
    path = tmp_path / "console.txt"
    path.touch()
    return path


def test_message_on_standard_output(call, capsys):
    driver = Driver(call(transport.open_transport("console", timeout=1)))
    call(driver.message("hi"))
    assert capsys.readouterr().out == "message: hi\n"
    call(driver.close())
    print("stdout stays open")
    assert capsys.readouterr().out == "stdout stays open\n"


def test_message_on_a_terminal_or_file(console, call):
    driver = Driver(call(transport.open_transport(str(console), timeout=1)))
    call(driver.message("first"))
    call(driver.message("second"))
    call(driver.close())
    assert console.read_text() == "message: first\nmessage: second\n"


def test_a_missing_device_is_not_created(tmp_path, call):
    unplugged = tmp_path / "ttyUSB0"
    with pytest.raises(FileNotFoundError):
        call(transport.open_transport(str(unplugged), timeout=1))
    assert not unplugged.exists()


def test_two_clients_at_once_each_print_whole_lines(console, call,
                                                    concurrently):
    driver = Driver(call(transport.open_transport(str(console), timeout=1)))
    texts = [f"line {i}" for i in range(20)]
    concurrently(*[lambda text=text: driver.message(text) for text in texts])
    call(driver.close())
    lines = console.read_text().splitlines()
    assert sorted(lines) == sorted(f"message: {text}" for text in texts)
