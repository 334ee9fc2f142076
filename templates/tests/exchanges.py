{#- The tests every line transport shares; the including file defines the
    fixtures instrument (an Instrument of tests/instruments.py, serving the
    fake device), device_address (its address for -d) and link (the
    transport opened on it, with TIMEOUT) and SILENCE_TIMEOUT. -#}
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
