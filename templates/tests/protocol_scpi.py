{#- The example device's protocol against the fake instrument, through
    SimulatedTransport; the including file imports pytest, Driver,
    FakeDevice and SimulatedTransport. -#}
@pytest.fixture
def device():
    return FakeDevice()


@pytest.fixture
def driver(device):
    return Driver(SimulatedTransport(device, timeout=0.1))


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
    link = SimulatedTransport(device, timeout=0.1)
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


def test_a_wrong_type_over_rpc_is_the_callers_error(start_controller):
    """The client gets the TypeError; the controller keeps serving."""
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    controller = start_controller("--simulation")
    client = controller.client()
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
{%- if cookiecutter.driver_api == "asyncio" %}


def test_ping_answers_while_a_ramp_runs(start_controller):
    """A long call does not hold the others: artiq_ctlmgr's ping."""
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    controller = start_controller("--simulation")
    ramping, pinging = controller.client(), controller.client()
    try:
        with ThreadPoolExecutor(1) as pool:
            ramp = pool.submit(ramping.ramp_voltage, 8.0, 10.0)  # 0.8 s
            time.sleep(0.2)
            started = time.monotonic()
            assert pinging.ping() is True
            assert time.monotonic() - started < 0.3
            assert not ramp.done()
            ramp.result()
        assert pinging.get_voltage() == 8.0
    finally:
        ramping.close_rpc()
        pinging.close_rpc()
{%- endif %}
{% include "tests/protocol_waveform.py" %}