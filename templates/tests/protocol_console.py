{#- The example device's protocol against the fake instrument, through
    SimulatedTransport; the including file imports pytest, Driver,
    FakeDevice and SimulatedTransport. -#}
@pytest.fixture
def driver():
    return Driver(SimulatedTransport(FakeDevice(), timeout=0.1))


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
{% include "tests/protocol_waveform.py" %}