{%- set name = cookiecutter.device_name -%}
"""Device tests: the example SCPI instrument's protocol against its fake
device (fake_device.py) through the simulated transport, then the same
driver over a real transport: TCP to a loopback instrument that serves the
fake device, and the controller on it.

This file is yours: when you port the driver to your instrument, replace
these tests with its own. The transports themselves (TCP, serial, VISA,
the console) are the runtime's, tested with it; the contract tests
(test_contract_*.py) check what every NDSP owes ARTIQ, whatever its
device, and must keep passing unchanged."""

import argparse
import inspect
import time
from concurrent.futures import ThreadPoolExecutor

import numpy
import pytest

from conftest import NAME, SIPYCO_MISSING, run_controller
from {{ name }}.driver import {{ cookiecutter.__driver_class }} as Driver
from {{ name }}.fake_device import FakeDevice
from {{ name }}.ndsp_runtime import transports
from instruments import TCPInstrument

# How the controller opens the driver and its transport.
KIND = "asyncio" if inspect.iscoroutinefunction(Driver.ping) else "sync"
OPTIONS = argparse.Namespace()  # the device options open() gets
# Seconds: ample for a busy machine; short where silence is the point. A
# reply LATE after its query comes once the query has timed out
# (LATE_TIMEOUT), and before the next exchange stops waiting for it.
TIMEOUT = 2.0
SILENCE_TIMEOUT = 0.3
LATE_TIMEOUT = 0.4
LATE = 0.6


def simulated(device, timeout=0.1):
    """The simulated transport to ``device``, as --simulation opens it."""
    return transports.simulated(device, KIND, timeout=timeout)


# --- The protocol, against the fake device -------------------------------

@pytest.fixture
def device():
    return FakeDevice()


@pytest.fixture
def driver(device, call):
    return call(Driver.open(call(simulated(device)), OPTIONS))


def test_identify(driver, call):
    assert call(driver.identify()) == FakeDevice.IDENTITY


@pytest.mark.parametrize("volts", [0, 12.5, 30.0])
def test_voltage_set_and_read_back(driver, device, call, volts):
    call(driver.set_voltage(volts))
    assert device.voltage == volts
    assert call(driver.get_voltage()) == volts


@pytest.mark.parametrize("volts", [-0.1, 30.001, float("nan")])
def test_voltage_out_of_range_is_refused_before_sending(driver, device, call,
                                                        volts):
    with pytest.raises(ValueError, match="from 0.0 to 30.0"):
        call(driver.set_voltage(volts))
    assert device.errors == []


@pytest.mark.parametrize("volts", ["5", None, True])
def test_voltage_must_be_a_number(driver, call, volts):
    with pytest.raises(TypeError, match="volts must be a number"):
        call(driver.set_voltage(volts))


def test_a_malformed_reply_is_an_error(driver, device, call):
    device.handle = lambda line: "VOLT 1.0 V"
    with pytest.raises(ValueError, match="malformed reply to VOLT?"):
        call(driver.get_voltage())


def test_an_unknown_command_gets_no_reply_and_queues_an_error(device, call):
    link = call(simulated(device))
    with pytest.raises(TimeoutError):
        call(link.query("VOLTAGE?"))
    assert call(link.query("SYST:ERR?")) == '-113,"Undefined header"'
    assert call(link.query("SYST:ERR?")) == '0,"No error"'


def test_ping_is_false_and_never_raises_once_the_device_is_gone(driver, call):
    assert call(driver.ping()) is True
    call(driver.close())
    assert call(driver.ping()) is False


def test_ping_is_false_when_the_device_stops_answering(driver, device, call):
    device.handle = lambda line: None
    assert call(driver.ping()) is False


def test_a_wrong_type_over_rpc_is_the_callers_error(served):
    """The client gets the TypeError; the controller keeps serving."""
    client = served.client()
    try:
        for volts in ("5", [5.0], None):
            with pytest.raises(TypeError, match="volts must be a number"):
                client.set_voltage(volts)
            assert client.ping() is True
    finally:
        client.close_rpc()


def test_a_ramp_ends_at_its_target(driver, device, call):
    call(driver.set_voltage(1.0))
    call(driver.ramp_voltage(2.0, rate=10.0))
    assert device.voltage == 2.0


@pytest.mark.parametrize("volts, rate", [(31.0, 10.0), (5.0, 0.0)])
def test_a_ramp_is_refused_before_its_first_step(driver, device, call,
                                                 volts, rate):
    with pytest.raises(ValueError):
        call(driver.ramp_voltage(volts, rate=rate))
    assert device.voltage == 0.0


def test_ping_during_a_ramp(served):
    """asyncio: a long call does not hold the others, artiq_ctlmgr's ping
    among them. sync: calls are served one at a time, so ping() answers
    once the ramp has ended, and never interleaves with it."""
    ramping, pinging = served.client(), served.client()
    try:
        with ThreadPoolExecutor(1) as pool:
            ramp = pool.submit(ramping.ramp_voltage, 8.0, 10.0)  # 0.8 s
            time.sleep(0.2)
            started = time.monotonic()
            assert pinging.ping() is True
            waited = time.monotonic() - started
            if KIND == "asyncio":
                assert waited < 0.3 and not ramp.done()
            else:
                assert waited > 0.3
            ramp.result()
        assert pinging.get_voltage() == 8.0
    finally:
        ramping.close_rpc()
        pinging.close_rpc()


# --- The waveform memory -------------------------------------------------
{% include "tests/waveform.py" %}

# --- A real transport: TCP to a loopback instrument ----------------------

@pytest.fixture
def instrument():
    instrument = TCPInstrument(FakeDevice())
    yield instrument
    instrument.close()


@pytest.fixture
def connect(instrument, call):
    """connect(timeout): the driver over TCP to the instrument, opened as
    the controller opens it."""
    opened = []

    def connect(timeout=TIMEOUT):
        link = call(transports.open_transport(instrument.address, KIND,
                                              timeout=timeout))
        opened.append(link)
        return call(Driver.open(link, OPTIONS))

    yield connect
    for link in opened:
        call(link.close())


def test_the_driver_sets_and_reads_back_over_tcp(connect, call):
    driver = connect()
    call(driver.set_voltage(12.5))
    assert call(driver.get_voltage()) == 12.5
    assert call(driver.identify()) == FakeDevice.IDENTITY


def test_a_device_that_stops_answering_times_out(instrument, connect, call):
    driver = connect(SILENCE_TIMEOUT)
    instrument.mute = True
    with pytest.raises(TimeoutError):
        call(driver.identify())
    assert call(driver.ping()) is False


@pytest.mark.parametrize("on_time", [0, 5], ids=["whole", "cut"])
def test_a_late_reply_never_answers_a_later_query(instrument, connect, call,
                                                  on_time):
    """The timed-out caller gets TimeoutError; every later call gets its
    own answer, with the late reply whole or cut by the timeout."""
    driver = connect(LATE_TIMEOUT)
    call(driver.set_voltage(12.0))
    instrument.answer_late(LATE, on_time)
    with pytest.raises(TimeoutError):
        call(driver.identify())
    call(driver.set_voltage(20))
    assert call(driver.get_voltage()) == 20.0
    assert call(driver.identify()) == FakeDevice.IDENTITY


def test_a_reply_sent_unasked_never_answers_a_later_query(instrument,
                                                          connect, call):
    driver = connect()
    instrument.send_unasked(b"9.999\n")
    time.sleep(0.2)  # it has crossed the loopback
    assert call(driver.get_voltage()) == 0.0
    assert call(driver.identify()) == FakeDevice.IDENTITY


def test_two_callers_at_once_get_their_own_answers(connect, call,
                                                   concurrently):
    driver = connect()
    call(driver.set_voltage(7.0))
    answers = concurrently(*[driver.identify, driver.get_voltage] * 10)
    assert answers == [FakeDevice.IDENTITY, 7.0] * 10


@pytest.fixture
def serve(start_controller, instrument):
    """serve(timeout): the controller with -d at the loopback instrument;
    it must exit cleanly on terminate."""
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    started = []

    def serve(timeout=TIMEOUT):
        started.append(start_controller("-d", instrument.address,
                                        "--timeout", str(timeout)))
        return started[-1].client()

    yield serve
    for controller in started:
        code, _, stderr = controller.terminate_over_rpc()
        assert code == 0, stderr


def test_the_controller_serves_the_instrument(serve):
    client = serve()
    try:
        client.set_voltage(3.5)
        assert client.get_voltage() == 3.5
        assert client.identify() == FakeDevice.IDENTITY
    finally:
        client.close_rpc()


def test_a_device_switched_off_and_on(instrument, serve):
    """Calls fail with a clear error and ping() turns False, so that
    artiq_ctlmgr restarts the controller, which then reaches the device
    again."""
    client = serve()
    try:
        assert client.ping() is True
        instrument.unplug()
        with pytest.raises(ConnectionError, match="closed the connection"):
            client.get_voltage()
        assert client.ping() is False
    finally:
        client.close_rpc()
    client = serve()
    try:
        assert client.ping() is True
    finally:
        client.close_rpc()


def test_a_late_reply_never_answers_a_later_call_over_rpc(instrument,
                                                          serve):
    client = serve(LATE_TIMEOUT)
    try:
        instrument.answer_late(LATE)
        with pytest.raises(TimeoutError):
            client.identify()
        assert instrument.late_reply_sent.wait(5)
        client.set_voltage(25.0)
        assert client.get_voltage() == 25.0
        assert client.ping() is True
    finally:
        client.close_rpc()


def test_a_device_that_never_answers_is_not_served(instrument):
    """It takes the connection and answers nothing: one error line, exit
    code 1 (artiq_ctlmgr tries again later)."""
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    instrument.mute = True
    result = run_controller("-d", instrument.address,
                            "--timeout", str(SILENCE_TIMEOUT))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"aqctl_{NAME}: error: cannot open device {instrument.address!r}: "
        f"it does not answer: ping() returned False"]
