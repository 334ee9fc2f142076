"""The T-Cube driver against its fake, through the runtime's simulated
transport (bytes, as a serial port carries them); then the controller in
--simulation, over sipyco, with each product."""

import argparse
import asyncio
import socket
import struct
import subprocess
import sys
import time

import pytest

from tcube.driver import (PRODUCTS, PZ_GET_OUTPUTVOLTS, DeviceError,
                          ProtocolError, Tcube, Tdc001, Tpz001)
from tcube.fake_device import FakeTCube, reply
from tcube.ndsp_runtime import transports


async def opened(device, product):
    transport = await transports.simulated(device, "asyncio", timeout=0.2)
    return await Tcube.open(transport, argparse.Namespace(product=product))


def run(device, product, *steps):
    """Open the driver of ``product`` on ``device``, then await each step
    (a function of the driver); their results."""
    async def session():
        driver = await opened(device, product)
        try:
            return [await step(driver) for step in steps]
        finally:
            await driver.close()
    return asyncio.run(session())


@pytest.mark.parametrize("product, cls", [("tpz001", Tpz001),
                                          ("tdc001", Tdc001)])
def test_the_product_chooses_the_class_and_the_device_must_be_it(product,
                                                                 cls):
    [driver, info] = run(FakeTCube(product), product,
                         lambda driver: asyncio.sleep(0, driver),
                         Tcube.hardware_info)
    assert type(driver) is cls
    assert info == {"model": product.upper(), "firmware": "1.0.4",
                    "serial_number": FakeTCube.SERIAL_NUMBERS[product]}


def test_a_device_of_the_other_product_is_refused():
    with pytest.raises(ConnectionError, match="'TPZ001', not a TDC001"):
        run(FakeTCube("tpz001"), "tdc001")


def test_the_voltage_limit_is_asked_at_start_up():
    device = FakeTCube("tpz001")
    device.voltage_limit = 1
    assert run(device, "tpz001", Tcube.output_range) == [[0.0, 75.0]]


def test_tpz001_output_volts_round_trip():
    device = FakeTCube("tpz001")
    _, volts = run(device, "tpz001", lambda d: d.set_output(30.0),
                   Tcube.get_output)
    assert device.volts_step == round(30.0 / 150.0 * 32767)
    assert volts == pytest.approx(30.0, abs=150.0 / 32767)


def test_tdc001_moves_and_reads_its_position():
    device = FakeTCube("tdc001")
    _, mm = run(device, "tdc001", lambda d: d.set_output(2.5),
                Tcube.get_output)
    assert device.counts == 2.5 * Tdc001.COUNTS_PER_MM
    assert mm == 2.5


def test_enable_state_round_trip():
    device = FakeTCube("tdc001")
    results = run(device, "tdc001", Tcube.is_enabled,
                  lambda d: d.set_enabled(True), Tcube.is_enabled)
    assert results == [False, None, True]
    assert device.enabled


@pytest.mark.parametrize("value, error", [(150.5, ValueError),
                                          (-1, ValueError),
                                          (True, TypeError),
                                          ("3", TypeError)])
def test_an_output_out_of_range_is_refused_before_anything_is_sent(
        value, error):
    device = FakeTCube("tpz001")
    with pytest.raises(error):
        run(device, "tpz001", lambda d: d.set_output(value))
    assert device.volts_step == 0


class Misbehaving(FakeTCube):
    """A TPZ001 that answers the next PZ_REQ_OUTPUTVOLTS with ``wrong``."""

    def __init__(self, wrong):
        super().__init__("tpz001")
        self.wrong = wrong

    def _volts(self, header, data):
        wrong, self.wrong = self.wrong, None
        return wrong or super()._volts(header, data)


@pytest.mark.parametrize("wrong, error", [
    (b"\x13\x37 not an APT frame", ProtocolError),
    # Data longer than a PZ_GET_OUTPUTVOLTS carries.
    (struct.pack("<HHBB", PZ_GET_OUTPUTVOLTS, 60000, 0x81, 0x50)
     + bytes(1000), ProtocolError),
    (reply(0x0081, data=struct.pack("<HH64s", 0x0644, 7, b"overload")),
     DeviceError),
])
def test_a_wrong_reply_is_an_error_and_the_next_call_is_answered(wrong,
                                                                 error):
    async def wrong_then_right(driver):
        await driver.set_output(10.0)
        with pytest.raises(error):
            await driver.get_output()
        return await driver.get_output(), await driver.ping()

    [(volts, alive)] = run(Misbehaving(wrong), "tpz001", wrong_then_right)
    assert volts == pytest.approx(10.0, abs=150.0 / 32767)
    assert alive is True


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("product", sorted(PRODUCTS))
def test_the_simulation_serves_the_product_that_p_names(product):
    pytest.importorskip("sipyco", reason="sipyco is not installed: this "
                        "test calls the controller over sipyco RPC")
    from sipyco.pc_rpc import Client

    port = free_port()
    controller = subprocess.Popen(
        [sys.executable, "-m", "tcube.aqctl_tcube", "--simulation",
         "-P", product, "--no-localhost-bind", "--bind", "127.0.0.1",
         "-p", str(port)], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                client = Client("127.0.0.1", port, "tcube", timeout=5)
                break
            except ConnectionRefusedError:
                assert controller.poll() is None, controller.stderr.read()
                assert time.monotonic() < deadline, "it never listened"
                time.sleep(0.05)
        try:
            assert client.product() == product
            assert client.hardware_info()["model"] == product.upper()
            client.terminate()
        finally:
            client.close_rpc()
        assert controller.wait(timeout=15) == 0
    finally:
        if controller.poll() is None:
            controller.kill()
        controller.communicate()
