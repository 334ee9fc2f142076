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

def test_a_waveform_is_acquired_in_a_loop(driver, call):
    call(driver.upload([1.0, 2.0, 3.0]))
    assert list(call(driver.acquire(7))) == [1, 2, 3, 1, 2, 3, 1]
    assert call(driver.checksum()) == 6.0


def test_acquire_gives_zeros_before_any_upload(driver, call):
    assert list(call(driver.acquire(3))) == [0.0, 0.0, 0.0]
    assert call(driver.checksum()) == 0.0


@pytest.mark.parametrize("data", [[[1.0], [2.0]], [1.0, float("nan")]])
def test_an_unusable_waveform_is_refused_and_the_last_kept(driver, call,
                                                           data):
    call(driver.upload([5.0]))
    with pytest.raises(ValueError, match="a list of finite samples"):
        call(driver.upload(data))
    assert call(driver.checksum()) == 5.0


@pytest.mark.parametrize("n", [-1, 2.5, True])
def test_acquire_takes_a_whole_number_of_samples(driver, call, n):
    with pytest.raises(ValueError, match="whole number of samples"):
        call(driver.acquire(n))


def test_no_more_than_the_memory_depth_is_acquired_or_loaded(driver, call):
    """Refused before anything is allocated: acquire(100000000) would
    take 800 MB of the controller's memory, several times over."""
    call(driver.upload([5.0]))
    with pytest.raises(ValueError, match="more than an acquisition holds"):
        call(driver.acquire(100_000_000))
    with pytest.raises(ValueError, match="more than the waveform memory"):
        call(driver.upload([0.0] * (driver.MEMORY_DEPTH + 1)))
    assert call(driver.checksum()) == 5.0


@pytest.mark.parametrize("data", [
    pytest.param([1.0, 2.0 + 0.5j], id="complex"),
    pytest.param([1.0, "2.0"], id="text"),
    pytest.param([1.0, None], id="objects"),
])
def test_samples_that_do_not_cast_to_float64_are_refused_before_sending(
        driver, call, monkeypatch, data):
    """numpy's "same_kind" rule: no imaginary part dropped, no parsing."""
    call(driver.upload([5.0]))
    sent, write_line = [], driver._transport.write_line
    monkeypatch.setattr(driver._transport, "write_line",
                        lambda line: sent.append(line) or write_line(line))
    with pytest.raises(TypeError, match="does not cast to float64"):
        call(driver.upload(data))
    assert sent == []
    assert call(driver.checksum()) == 5.0


@pytest.mark.parametrize("data", [[0, 1, 2], [True, True, True]])
def test_whole_numbers_are_samples(driver, call, data):
    call(driver.upload(data))
    assert call(driver.checksum()) == 3.0
    assert str(call(driver.acquire(3)).dtype) == "float64"


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
