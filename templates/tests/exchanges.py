{#- The tests every line transport shares; the including file defines the
    fixtures instrument (an Instrument of tests/instruments.py, serving the
    fake device), device_address (its address for -d) and link (the
    transport opened on it, with TIMEOUT) and SILENCE_TIMEOUT, and imports
    time, NAME and run_controller. -#}
# Seconds: a reply LATE after its query comes once the query has timed out
# (LATE_TIMEOUT), and before the next exchange stops waiting for it (one
# more LATE_TIMEOUT).
LATE_TIMEOUT = 0.4
LATE = 0.6


def test_a_query_and_its_reply(link, call):
    assert call(link.query("*IDN?")) == FakeDevice.IDENTITY


def test_the_driver_sets_and_reads_back_through_the_device(link, call):
    driver = Driver(link)
    call(driver.set_voltage(12.5))
    assert call(driver.get_voltage()) == 12.5
    assert call(driver.identify()) == FakeDevice.IDENTITY


def test_a_malformed_reply(instrument, link, call):
    instrument.handle = lambda line: "#garbage"
    with pytest.raises(ValueError, match="malformed reply to VOLT?"):
        call(Driver(link).get_voltage())


def test_a_device_that_stops_answering(instrument, device_address, call):
    link = call(transport.open_transport(device_address,
                                         timeout=SILENCE_TIMEOUT))
    instrument.handle = lambda line: None
    try:
        with pytest.raises(TimeoutError):
            call(link.query("*IDN?"))
        assert call(Driver(link).ping()) is False
    finally:
        call(link.close())


@pytest.mark.parametrize("on_time", [0, 5], ids=["whole", "cut"])
@pytest.mark.parametrize("came", [False, True], ids=["at_once", "once_come"])
def test_a_late_reply_never_answers_a_later_query(instrument, device_address,
                                                  call, came, on_time):
    """The timed-out caller gets TimeoutError; every later call gets its
    own answer, whether it comes right after the timeout, before the late
    reply, or after it; with the reply whole or cut by the timeout."""
    link = call(transport.open_transport(device_address,
                                         timeout=LATE_TIMEOUT))
    driver = Driver(link)
    try:
        call(driver.set_voltage(12.0))
        instrument.answer_late(LATE, on_time)
        with pytest.raises(TimeoutError):
            call(driver.identify())
        if came:
            assert instrument.late_reply_sent.wait(5)
        call(driver.set_voltage(20))
        assert call(driver.get_voltage()) == 20.0
        assert call(driver.identify()) == FakeDevice.IDENTITY
        assert call(driver.ping()) is True
    finally:
        call(link.close())


def test_a_query_never_answered_leaves_the_next_ones_right(
        instrument, device_address, call):
    """SCPI instruments do not answer an unknown query: the next exchanges
    still get their answers."""
    link = call(transport.open_transport(device_address,
                                         timeout=LATE_TIMEOUT))
    driver = Driver(link)
    try:
        for _ in range(2):  # two timeouts in a row
            with pytest.raises(TimeoutError):
                call(link.query("VOLTAGE?"))
        assert call(driver.identify()) == FakeDevice.IDENTITY
        call(driver.set_voltage(3.5))
        assert call(driver.get_voltage()) == 3.5
    finally:
        call(link.close())
{%- if cookiecutter.transport != "visa" %}


def test_a_line_sent_unasked_never_answers_a_later_query(instrument, link,
                                                         call):
    instrument.send_unasked("9.999")
    time.sleep(0.2)  # it has crossed the loopback
    assert call(Driver(link).get_voltage()) == 0.0
    assert call(Driver(link).identify()) == FakeDevice.IDENTITY
{%- endif %}


def test_two_clients_at_once_get_their_own_answers(link, call,
                                                   concurrently):
    driver = Driver(link)
    call(driver.set_voltage(7.0))
    calls = [driver.identify, driver.get_voltage] * 10
    answers = concurrently(*calls)
    assert answers == [FakeDevice.IDENTITY, 7.0] * 10


@pytest.fixture
def serve(start_controller, device_address):
    """serve(timeout): the controller on the real I/O path, at the loopback
    instrument; it must exit cleanly on terminate."""
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    started = []

    def serve(timeout):
        started.append(start_controller("-d", device_address,
                                        "--timeout", str(timeout)))
        return started[-1]

    yield serve
    for controller in started:
        code, _, stderr = controller.terminate_over_rpc()
        assert code == 0, stderr


def assert_a_new_controller_reaches_the_device(serve):
    """What artiq_ctlmgr's restart after a failed ping() gives."""
    client = serve(TIMEOUT).client()
    try:
        assert client.ping() is True
    finally:
        client.close_rpc()


def test_two_rpc_clients_at_once_get_their_own_answers(serve):
    controller = serve(TIMEOUT)
    clients = [controller.client() for _ in range(2)]
    try:
        clients[1].set_voltage(7.0)
        with ThreadPoolExecutor(2) as pool:
            answers = list(pool.map(
                lambda client: [client.identify(), client.get_voltage()] * 5,
                clients))
    finally:
        for client in clients:
            client.close_rpc()
    assert answers == [[FakeDevice.IDENTITY, 7.0] * 5] * 2


def test_a_late_reply_never_answers_a_later_call_over_rpc(instrument,
                                                          serve):
    """The caller of the late call gets TimeoutError, and ping() stays
    honest: it and every later call get their own answers."""
    client = serve(LATE_TIMEOUT).client()
    try:
        for volts, came in ((20.0, False), (25.0, True)):
            instrument.answer_late(LATE)
            with pytest.raises(TimeoutError):
                client.identify()
            if came:
                assert instrument.late_reply_sent.wait(5)
            else:
                assert client.ping() is True
            client.set_voltage(volts)
            assert client.get_voltage() == volts
            assert client.identify() == FakeDevice.IDENTITY
            assert client.ping() is True
    finally:
        client.close_rpc()


def test_a_device_that_never_answers_is_not_served(instrument,
                                                   device_address):
    """It takes the connection and answers nothing: one error line, exit
    code 1 (artiq_ctlmgr tries again later)."""
    pytest.importorskip("sipyco", reason=SIPYCO_MISSING)
    instrument.handle = lambda line: None
    result = run_controller("-d", device_address,
                            "--timeout", str(SILENCE_TIMEOUT))
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"aqctl_{NAME}: error: cannot open device {device_address!r}: it "
        f"does not answer: ping() returned False"]


def test_a_silent_device_times_out_and_the_controller_keeps_serving(
        instrument, serve):
    # Long enough for the answer after the silence, on a busy machine too.
    controller = serve(1.0)
    handle = instrument.handle
    client = controller.client()
    try:
        instrument.handle = lambda line: None
        with pytest.raises(TimeoutError):
            client.identify()
        assert client.ping() is False
        instrument.handle = handle
        assert client.identify() == FakeDevice.IDENTITY
    finally:
        client.close_rpc()
