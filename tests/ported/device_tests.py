"""The attenuator driver against its simulation: the fake attenuator behind
the simulated transport. Needs neither sipyco nor hardware."""

import argparse
import inspect

import pytest

from hello.driver import Hello
from hello.fake_device import FakeDevice
from hello.ndsp_runtime import transports

KIND = "asyncio" if inspect.iscoroutinefunction(Hello.ping) else "sync"


@pytest.fixture
def device():
    return FakeDevice()


@pytest.fixture
def sent(device):
    """Every line the driver sends the device, in order."""
    lines = []
    handle = device.handle

    def recording(line):
        lines.append(line)
        return handle(line)

    device.handle = recording
    return lines


@pytest.fixture
def driver(device, sent, call):
    transport = call(transports.simulated(device, KIND, timeout=0.1))
    return call(Hello.open(transport, argparse.Namespace()))


def test_serial_number(driver, sent, call):
    assert call(driver.serial_number()) == FakeDevice.SERIAL_NUMBER
    assert sent == ["SN?"]


@pytest.mark.parametrize("channel, db", [(1, 0), (2, 12.5), (4, 31.5)])
def test_attenuation_set_and_read_back(driver, device, sent, call,
                                       channel, db):
    call(driver.set_attenuation(channel, db))
    assert sent == [f"ATT {channel},{db:.1f}"]
    assert device.attenuation[channel] == db
    assert call(driver.get_attenuation(channel)) == db
    assert device.errors == []


def test_channels_are_independent(driver, device, call):
    call(driver.set_attenuation(3, 10.0))
    assert [call(driver.get_attenuation(channel))
            for channel in (1, 2, 3, 4)] == [0.0, 0.0, 10.0, 0.0]


@pytest.mark.parametrize("channel, db, message", [
    (0, 1.0, "channel must be from 1 to 4"),
    (5, 1.0, "channel must be from 1 to 4"),
    (1, -0.5, "from 0.0 to 31.5 dB"),
    (1, 32.0, "from 0.0 to 31.5 dB"),
    (1, float("nan"), "from 0.0 to 31.5 dB"),
    (1, 1.25, "multiple of 0.5 dB"),
])
def test_out_of_range_is_refused_before_sending(driver, device, sent, call,
                                                channel, db, message):
    with pytest.raises(ValueError, match=message):
        call(driver.set_attenuation(channel, db))
    assert sent == []
    assert device.errors == []


@pytest.mark.parametrize("channel, db, message", [
    ("1", 1.0, "channel must be an int, not str"),
    (True, 1.0, "channel must be an int, not bool"),
    (1.0, 1.0, "channel must be an int, not float"),
    (1, "1.0", "db must be a number, not str"),
    (1, None, "db must be a number, not NoneType"),
    (1, False, "db must be a number, not bool"),
])
def test_wrong_types_are_refused_before_sending(driver, sent, call,
                                                channel, db, message):
    with pytest.raises(TypeError, match=message):
        call(driver.set_attenuation(channel, db))
    assert sent == []


def test_rf_enable_and_disable(driver, device, sent, call):
    assert call(driver.rf_enabled()) is False
    call(driver.set_rf_enabled(True))
    assert device.rf_enabled is True
    assert call(driver.rf_enabled()) is True
    call(driver.set_rf_enabled(False))
    assert call(driver.rf_enabled()) is False
    assert sent == ["OUTP?", "OUTP ON", "OUTP?", "OUTP OFF", "OUTP?"]


def test_rf_enabled_must_be_a_bool(driver, sent, call):
    with pytest.raises(TypeError, match="enabled must be a bool, not int"):
        call(driver.set_rf_enabled(1))
    assert sent == []


def test_input_port_selected_and_read_back(driver, device, sent, call):
    call(driver.select_input(2))
    assert sent == ["INP 2"]
    assert device.input_port == 2
    assert call(driver.selected_input()) == 2


@pytest.mark.parametrize("port, error", [(3, ValueError), ("2", TypeError)])
def test_a_wrong_input_port_is_refused_before_sending(driver, sent, call,
                                                      port, error):
    with pytest.raises(error, match="port must be"):
        call(driver.select_input(port))
    assert sent == []


def test_sweep_is_sent_as_one_line(driver, device, sent, call):
    call(driver.load_sweep([1.0, 2.5, 3]))
    assert sent == ["SWEEP 1.0,2.5,3.0;0.100"]
    assert device.sweep == [1.0, 2.5, 3.0]
    assert device.dwell == 0.1
    assert call(driver.sweep_length()) == 3
    call(driver.load_sweep([31.5], dwell=2))
    assert sent[-1] == "SWEEP 31.5;2.000"
    assert call(driver.sweep_length()) == 1
    assert device.errors == []


@pytest.mark.parametrize("levels, dwell, error, message", [
    ([], 0.1, ValueError, "at least one level"),
    ([1.0, 40.0], 0.1, ValueError, r"levels\[1\] must be from 0.0 to 31.5"),
    ([1.0, 0.3], 0.1, ValueError, r"levels\[1\] must be a multiple of 0.5"),
    ([1.0, "2"], 0.1, TypeError, r"levels\[1\] must be a number, not str"),
    ("1.0", 0.1, TypeError, "levels must be a list of numbers, not str"),
    ([1.0], 0, ValueError, "dwell must be from 0.001 to 10.0 s"),
    ([1.0], "0.1", TypeError, "dwell must be a number, not str"),
])
def test_a_bad_sweep_is_refused_before_sending(driver, device, sent, call,
                                               levels, dwell, error,
                                               message):
    with pytest.raises(error, match=message):
        call(driver.load_sweep(levels, dwell))
    assert sent == []
    assert device.sweep == []


def test_the_fake_queues_errors_for_what_it_cannot_take(device):
    assert device.handle("ATT 5,1.0") is None
    assert device.handle("ATT 1,31.6") is None
    assert device.handle("ATT? x") is None
    assert device.handle("FREQ 1e9") is None
    assert device.errors == [FakeDevice.OUT_OF_RANGE,
                             FakeDevice.OUT_OF_RANGE,
                             FakeDevice.DATA_TYPE_ERROR,
                             FakeDevice.UNDEFINED_HEADER]
    assert device.attenuation[1] == 0.0
    assert device.handle("SYST:ERR?") == FakeDevice.OUT_OF_RANGE


def test_a_malformed_reply_is_an_error(driver, device, call):
    device.handle = lambda line: "12.5 dB"
    with pytest.raises(ValueError, match=r"malformed reply to ATT\? 1"):
        call(driver.get_attenuation(1))
    with pytest.raises(ValueError, match=r"malformed reply to OUTP\?"):
        call(driver.rf_enabled())


def test_ping_is_true_then_false_once_closed(driver, call):
    assert call(driver.ping()) is True
    call(driver.close())
    assert call(driver.ping()) is False


def test_ping_is_false_when_the_device_stops_answering(driver, device, call):
    device.handle = lambda line: None
    assert call(driver.ping()) is False
