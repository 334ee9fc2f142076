{#- The tests every line transport shares; the including file defines the
    fixtures instrument (an Instrument of tests/instruments.py, serving the
    fake device) and link (the transport opened on it), and TIMEOUT. -#}
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


def test_a_device_that_stops_answering(instrument, link, call):
    instrument.handle = lambda line: None
    with pytest.raises(TimeoutError):
        call(link.query("*IDN?"))
    assert call(Driver(link).ping()) is False


def test_two_clients_at_once_get_their_own_answers(link, call,
                                                   concurrently):
    driver = Driver(link)
    call(driver.set_voltage(7.0))
    calls = [driver.identify, driver.get_voltage] * 10
    answers = concurrently(*calls)
    assert answers == [FakeDevice.IDENTITY, 7.0] * 10
